// SyncStatusStore on its own small LMDB environment (one record per device),
// so the face store's write batches never wait for status bookkeeping.
import { mkdirSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import type { DeviceSyncStatus, SyncStatusStore } from '../sync-status.js';

class LmdbSyncStatusStore implements SyncStatusStore {
  constructor(private readonly db: RootDatabase<DeviceSyncStatus, string>) {}

  async record(status: DeviceSyncStatus): Promise<void> {
    await this.db.put(status.device, status);
  }

  async list(): Promise<DeviceSyncStatus[]> {
    return Array.from(this.db.getRange(), (entry) => entry.value);
  }

  async backup(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await this.db.backup(dir, false);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export async function openLmdbSyncStatus(options: { path: string }): Promise<SyncStatusStore> {
  return new LmdbSyncStatusStore(open<DeviceSyncStatus, string>({ path: options.path }));
}
