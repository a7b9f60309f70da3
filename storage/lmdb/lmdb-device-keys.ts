// DeviceKeyStore on its own small LMDB environment: records by device id,
// and device ids by key hash, written together in one transaction.
import { open, type Database, type RootDatabase } from 'lmdb';
import type { DeviceKeyRecord, DeviceKeyStore } from '../device-keys.js';

class LmdbDeviceKeyStore implements DeviceKeyStore {
  constructor(
    private readonly root: RootDatabase,
    private readonly byDevice: Database<DeviceKeyRecord, string>,
    private readonly byHash: Database<string, string>,
  ) {}

  async register(record: DeviceKeyRecord): Promise<void> {
    await this.byDevice.transaction(() => {
      const previous = this.byDevice.get(record.deviceId);
      if (previous) this.byHash.remove(previous.keyHash);
      this.byDevice.put(record.deviceId, record);
      this.byHash.put(record.keyHash, record.deviceId);
    });
  }

  async revoke(deviceId: string): Promise<boolean> {
    return this.byDevice.transaction(() => {
      const previous = this.byDevice.get(deviceId);
      if (!previous) return false;
      this.byHash.remove(previous.keyHash);
      this.byDevice.remove(deviceId);
      return true;
    });
  }

  deviceOfKey(keyHash: string): string | undefined {
    return this.byHash.get(keyHash);
  }

  isRegistered(deviceId: string): boolean {
    return this.byDevice.doesExist(deviceId);
  }

  async list(page: { after?: string; limit: number }): Promise<DeviceKeyRecord[]> {
    const out: DeviceKeyRecord[] = [];
    for (const { key, value } of this.byDevice.getRange({ start: page.after ?? '' })) {
      if (page.after !== undefined && key === page.after) continue;
      if (out.length >= page.limit) break;
      out.push(value);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

export async function openLmdbDeviceKeys(options: { path: string }): Promise<DeviceKeyStore> {
  const root = open({ path: options.path, maxDbs: 4 });
  return new LmdbDeviceKeyStore(
    root,
    root.openDB<DeviceKeyRecord, string>({ name: 'by device' }),
    root.openDB<string, string>({ name: 'by key hash' }),
  );
}
