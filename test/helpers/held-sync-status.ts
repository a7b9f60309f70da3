// An in-memory SyncStatusStore whose writes wait until the test lets them
// land (or fail), in call order as the LMDB store applies them: to see what
// is visible while a status write is still on its way to the disk.
import type { DeviceSyncStatus, SyncStatusStore } from '../../storage/sync-status.js';

interface HeldWrite {
  status: DeviceSyncStatus;
  land(): void;
  fail(err: Error): void;
}

export class HeldSyncStatus implements SyncStatusStore {
  readonly stored = new Map<string, DeviceSyncStatus>();
  /** Writes not landed yet, oldest first. */
  readonly held: HeldWrite[] = [];
  closed = false;
  /** Writes land at once while false. */
  holding = true;

  record(status: DeviceSyncStatus): Promise<void> {
    if (this.closed) return Promise.reject(new Error('closed'));
    return new Promise<void>((resolve, reject) => {
      const write: HeldWrite = {
        status,
        land: () => {
          this.stored.set(status.device, status);
          resolve();
        },
        fail: reject,
      };
      if (this.holding) this.held.push(write);
      else write.land();
    });
  }

  /** Lands the oldest `n` held writes (all by default), in order. */
  land(n = this.held.length): void {
    for (const write of this.held.splice(0, n)) write.land();
  }

  /** Fails the oldest held write. */
  failNext(err = new Error('disk full')): void {
    this.held.shift()!.fail(err);
  }

  async list(page: { after?: string; limit: number }): Promise<DeviceSyncStatus[]> {
    return [...this.stored.keys()]
      .sort()
      .filter((device) => page.after === undefined || device > page.after)
      .slice(0, page.limit)
      .map((device) => this.stored.get(device)!);
  }

  async get(device: string): Promise<DeviceSyncStatus | undefined> {
    return this.stored.get(device);
  }

  async count(): Promise<number> {
    return this.stored.size;
  }

  async backup(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
