// SyncStatusStore on its own small LMDB environment (one record per device),
// so the face store's write batches never wait for status bookkeeping.
// A second database orders devices by their last sync time, so the cap on
// devices kept drops the longest-silent ones in work proportional to what
// is dropped, not to the number of devices.
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { DeviceSyncStatus, SyncStatusStore } from '../sync-status.js';
import { PendingSyncStatus } from '../pending-sync-status.js';

export interface LmdbSyncStatusOptions {
  path: string;
  /** Most devices kept; recording one more drops those that synced longest ago. Default 10,000. */
  maxDevices?: number;
}

export const DEFAULT_MAX_DEVICES = 10_000;

/** [syncTime, device]: the order in which devices are dropped. */
type TimeKey = [number, string];

class LmdbSyncStatusStore implements SyncStatusStore {
  constructor(
    private readonly root: RootDatabase<DeviceSyncStatus, string>,
    private readonly devices: Database<DeviceSyncStatus, string>,
    private readonly byTime: Database<true, TimeKey>,
    private readonly maxDevices: number,
  ) {}

  async record(status: DeviceSyncStatus): Promise<void> {
    // lmdb-js runs async transaction callbacks in the order they were called
    // (its README, "ordering"): the latest record is the one left, which
    // PendingSyncStatus relies on. One transaction: the record, its place in the time order, and the evictions.
    await this.devices.transaction(() => {
      const previous = this.devices.get(status.device);
      if (previous) this.byTime.remove([previous.syncTime, previous.device]);
      this.devices.put(status.device, status);
      this.byTime.put([status.syncTime, status.device], true);
      let excess = this.devices.getCount() - this.maxDevices;
      if (excess <= 0) return;
      for (const key of this.byTime.getKeys({ limit: excess })) {
        this.byTime.remove(key);
        this.devices.remove(key[1]);
        if (--excess <= 0) break;
      }
    });
  }

  async list(page: { after?: string; limit: number }): Promise<DeviceSyncStatus[]> {
    const out: DeviceSyncStatus[] = [];
    for (const { key, value } of this.devices.getRange({ start: page.after ?? '' })) {
      if (page.after !== undefined && key === page.after) continue;
      if (out.length >= page.limit) break;
      out.push(value);
    }
    return out;
  }

  async get(device: string): Promise<DeviceSyncStatus | undefined> {
    return this.devices.get(device);
  }

  async count(): Promise<number> {
    return this.devices.getCount();
  }

  async backup(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await this.root.backup(dir, false);
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

// Database names contain a space, which no device id does (limits.ts): they
// cannot be mistaken for the records earlier versions kept in the root.
const DEVICES_DB = 'sync status';
const BY_TIME_DB = 'by sync time';

export async function openLmdbSyncStatus(options: LmdbSyncStatusOptions): Promise<SyncStatusStore> {
  const maxDevices = options.maxDevices ?? DEFAULT_MAX_DEVICES;
  if (!Number.isInteger(maxDevices) || maxDevices < 1) throw new RangeError(`maxDevices must be a positive integer, got ${maxDevices}`);
  const root = open<DeviceSyncStatus, string>({ path: options.path, maxDbs: 4 });
  const devices = root.openDB<DeviceSyncStatus, string>({ name: DEVICES_DB });
  const byTime = root.openDB<true, TimeKey>({ name: BY_TIME_DB });
  const store = new LmdbSyncStatusStore(root, devices, byTime, maxDevices);
  // Earlier versions kept one record per device in the root database: move them over once.
  const legacy = Array.from(root.getKeys()).filter((key) => key !== DEVICES_DB && key !== BY_TIME_DB);
  for (const key of legacy) {
    const status = root.get(key);
    if (status && typeof status.device === 'string' && !devices.get(status.device)) await store.record(status);
    await root.remove(key);
  }
  // Records visible at once, before their commit (the sync trailer does not wait for the disk).
  return new PendingSyncStatus(store, maxDevices);
}
