// Makes a sync status record visible the moment it is recorded, while its
// write (an LMDB commit with its fsync, which waits behind the disk when
// enrolments write too) is still under way. The sync route records a
// device's status just before the trailer goes out and must not hold the
// trailer for the disk: a status query issued after the terminal has the
// whole response still sees the record, from this overlay until the write
// lands and from the store after.
//
// Order: the backend applies writes in the order record() was called (the
// LMDB store's async transactions do), so the latest record of a device is
// the one left on disk. The overlay keeps only the latest record per device,
// and a write that finishes clears the overlay only if no later record of
// the same device came since: an earlier success finishing late can neither
// hide a later failure re-record nor be shown instead of it.
import type { DeviceSyncStatus, SyncStatusStore } from './sync-status.js';

interface Pending {
  status: DeviceSyncStatus;
  /** Which record() call this is, so a finished write clears only its own entry. */
  seq: number;
}

export class PendingSyncStatus implements SyncStatusStore {
  /** The latest record per device whose write has not finished yet. */
  private readonly pending = new Map<string, Pending>();
  /** Every write not finished yet (close() and backup() wait for them). */
  private readonly writes = new Set<Promise<unknown>>();
  private seq = 0;
  private closing: Promise<void> | undefined;

  /** `inner` must apply writes in call order; `maxDevices` is its cap (count() never exceeds it). */
  constructor(
    private readonly inner: SyncStatusStore,
    private readonly maxDevices: number,
  ) {}

  /**
   * Visible to get, list and count from this call on. Resolves once the
   * backend has written it; if that fails it rejects and the record is no
   * longer shown (unless a later one of the device replaced it).
   */
  record(status: DeviceSyncStatus): Promise<void> {
    if (this.closing) return Promise.reject(new Error('sync status store is closed'));
    const entry: Pending = { status, seq: ++this.seq };
    this.pending.set(status.device, entry);
    const write = this.inner.record(status);
    const settled = write.then(
      () => this.settle(entry),
      () => this.settle(entry),
    );
    this.writes.add(settled);
    void settled.then(() => this.writes.delete(settled));
    return write;
  }

  private settle(entry: Pending): void {
    if (this.pending.get(entry.status.device)?.seq === entry.seq) this.pending.delete(entry.status.device);
  }

  async get(device: string): Promise<DeviceSyncStatus | undefined> {
    return this.pending.get(device)?.status ?? (await this.inner.get(device));
  }

  /**
   * The stored page merged with the pending records in its range (pending
   * ones win). Until a pending write lands, devices it will drop beyond the
   * cap are still listed: the overlay does not repeat the backend's eviction.
   */
  async list(page: { after?: string; limit: number }): Promise<DeviceSyncStatus[]> {
    const stored = await this.inner.list(page);
    if (this.pending.size === 0) return stored;
    // The first `limit` devices of the union are among the first `limit`
    // stored ones and the pending ones, so one stored page is enough. Keys
    // are printable ASCII (device ids, IPs), where `<` is LMDB's byte order.
    const merged = new Map<string, DeviceSyncStatus>(stored.map((status) => [status.device, status]));
    for (const [device, { status }] of this.pending) {
      if (page.after === undefined || device > page.after) merged.set(device, status);
    }
    return [...merged.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0)).slice(0, page.limit);
  }

  async count(): Promise<number> {
    let count = await this.inner.count();
    for (const device of this.pending.keys()) if ((await this.inner.get(device)) === undefined) count++;
    return Math.min(count, this.maxDevices);
  }

  /** Waits for the pending writes, so the copy has every record recorded before the call. */
  async backup(dir: string): Promise<void> {
    await this.flushed();
    await this.inner.backup(dir);
  }

  /** Refuses new records, writes the pending ones, then closes the backend. */
  close(): Promise<void> {
    this.closing ??= this.flushed().then(() => this.inner.close());
    return this.closing;
  }

  /** Resolves once every write started so far has finished (whether or not it succeeded). */
  private async flushed(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
  }
}
