import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { openLmdbSyncStatus } from '../../storage/index.js';
import type { DeviceSyncStatus, SyncStatusStore } from '../../storage/sync-status.js';

function status(device: string, syncTime: number): DeviceSyncStatus {
  return { device, deviceId: device, ip: '127.0.0.1', clientVersion: 'v1', syncTime, searchModel: 'm', groups: [] };
}

describe('LmdbSyncStatusStore', function () {
  let dir: string;
  let store: SyncStatusStore | undefined;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sync-status-test-'));
  });

  afterEach(async function () {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one record per device, the latest', async function () {
    store = await openLmdbSyncStatus({ path: dir });
    await store.record(status('a', 1));
    await store.record({ ...status('a', 2), clientVersion: 'v2' });
    expect(await store.count()).to.equal(1);
    expect((await store.get('a'))!.clientVersion).to.equal('v2');
    expect(await store.get('b')).to.equal(undefined);
  });

  it('drops the devices that synced longest ago beyond the cap', async function () {
    store = await openLmdbSyncStatus({ path: dir, maxDevices: 3 });
    await store.record(status('a', 10));
    await store.record(status('b', 20));
    await store.record(status('c', 30));
    await store.record(status('a', 40)); // a synced again: now b is the oldest
    await store.record(status('d', 50));
    expect(await store.count()).to.equal(3);
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['a', 'c', 'd']);
    await store.record(status('e', 60));
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['a', 'd', 'e']);
  });

  it('pages devices in key order after a cursor', async function () {
    store = await openLmdbSyncStatus({ path: dir });
    for (const [i, device] of ['d', 'b', 'a', 'c', 'e'].entries()) await store.record(status(device, i));
    expect((await store.list({ limit: 2 })).map((s) => s.device)).to.deep.equal(['a', 'b']);
    expect((await store.list({ after: 'b', limit: 2 })).map((s) => s.device)).to.deep.equal(['c', 'd']);
    expect((await store.list({ after: 'bb', limit: 10 })).map((s) => s.device)).to.deep.equal(['c', 'd', 'e']);
    expect(await store.list({ after: 'e', limit: 2 })).to.deep.equal([]);
  });

  it('keeps the cap and the records across a reopen', async function () {
    store = await openLmdbSyncStatus({ path: dir, maxDevices: 2 });
    await store.record(status('a', 1));
    await store.record(status('b', 2));
    await store.close();
    store = await openLmdbSyncStatus({ path: dir, maxDevices: 2 });
    await store.record(status('c', 3));
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['b', 'c']);
  });

  it('moves the records an earlier version kept in the root database', async function () {
    const legacy = open<DeviceSyncStatus, string>({ path: dir });
    await legacy.put('door-1', status('door-1', 5));
    await legacy.put('door-2', status('door-2', 6));
    await legacy.close();
    store = await openLmdbSyncStatus({ path: dir, maxDevices: 10 });
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['door-1', 'door-2']);
    await store.close();
    store = await openLmdbSyncStatus({ path: dir, maxDevices: 10 });
    expect(await store.count()).to.equal(2);
  });

  it('shows a record from the record() call on, before its commit', async function () {
    store = await openLmdbSyncStatus({ path: dir });
    const written = store.record(status('door', 1));
    expect(await store.get('door')).to.deep.equal(status('door', 1));
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['door']);
    expect(await store.count()).to.equal(1);
    await written;
    expect(await store.get('door')).to.deep.equal(status('door', 1));
  });

  it('keeps the later of two records recorded without waiting, in memory and on disk', async function () {
    store = await openLmdbSyncStatus({ path: dir });
    const success = store.record({ ...status('door', 1), clientVersion: 'success' });
    const failure = store.record({ ...status('door', 2), clientVersion: 'failure' });
    expect((await store.get('door'))!.clientVersion).to.equal('failure');
    await success;
    expect((await store.get('door'))!.clientVersion).to.equal('failure');
    await failure;
    await store.close();
    store = await openLmdbSyncStatus({ path: dir });
    expect((await store.get('door'))!.clientVersion).to.equal('failure');
    expect(await store.count()).to.equal(1);
  });

  it('close() commits the records still pending', async function () {
    store = await openLmdbSyncStatus({ path: dir });
    const written = [store.record(status('a', 1)), store.record(status('b', 2))];
    await store.close();
    expect(await Promise.allSettled(written)).to.deep.equal([{ status: 'fulfilled', value: undefined }, { status: 'fulfilled', value: undefined }]);
    store = await openLmdbSyncStatus({ path: dir });
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['a', 'b']);
  });

  it('refuses a cap that is not a positive integer', async function () {
    for (const maxDevices of [0, -1, 1.5]) {
      let error: unknown;
      await openLmdbSyncStatus({ path: dir, maxDevices }).catch((err) => (error = err));
      expect(error, String(maxDevices)).to.be.instanceOf(RangeError);
    }
  });
});
