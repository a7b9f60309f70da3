import { expect } from 'chai';
import { PendingSyncStatus } from '../../storage/pending-sync-status.js';
import type { DeviceSyncStatus } from '../../storage/sync-status.js';
import { HeldSyncStatus } from '../helpers/held-sync-status.js';

function status(device: string, syncTime: number, resultCode: 0 | 1 = 0): DeviceSyncStatus {
  return {
    device,
    deviceId: device,
    ip: '127.0.0.1',
    clientVersion: 'v1',
    syncTime,
    searchModel: 'm',
    groups: [{ groupName: 'g', groupId: 1, localVersion: 1, cloudVersion: 2, resultCode, resultVersion: resultCode ? 1 : 2, faceTokensAdded: 1, faceTokensDeleted: 0 }],
  };
}

const settled = (p: Promise<unknown>) => p.then(() => 'resolved', () => 'rejected');
const tick = () => new Promise((r) => setImmediate(r));

describe('PendingSyncStatus', function () {
  let inner: HeldSyncStatus;
  let store: PendingSyncStatus;

  beforeEach(function () {
    inner = new HeldSyncStatus();
    store = new PendingSyncStatus(inner, 3);
  });

  it('shows a record to get, list and count from the record() call on, before its write lands', async function () {
    const written = store.record(status('b', 1));
    expect(inner.stored.size).to.equal(0);
    expect(await store.get('b')).to.deep.equal(status('b', 1));
    expect((await store.list({ limit: 10 })).map((s) => s.device)).to.deep.equal(['b']);
    expect(await store.count()).to.equal(1);
    inner.land();
    await written;
    expect(await store.get('b')).to.deep.equal(status('b', 1));
    expect(await store.count()).to.equal(1);
  });

  it('merges pending records into the stored pages in key order, pending ones winning', async function () {
    inner.holding = false;
    for (const device of ['a', 'c', 'e']) await store.record(status(device, 1));
    inner.holding = true;
    void store.record(status('d', 2));
    void store.record(status('c', 3, 1));
    expect((await store.list({ limit: 10 })).map((s) => [s.device, s.syncTime])).to.deep.equal([['a', 1], ['c', 3], ['d', 2], ['e', 1]]);
    expect((await store.list({ limit: 2 })).map((s) => s.device)).to.deep.equal(['a', 'c']);
    expect((await store.list({ after: 'c', limit: 1 })).map((s) => s.device)).to.deep.equal(['d']);
    expect((await store.list({ after: 'd', limit: 5 })).map((s) => s.device)).to.deep.equal(['e']);
    // 4 devices known, but the cap is 3: the write of d drops the oldest.
    expect(await store.count()).to.equal(3);
    inner.land();
  });

  it('keeps a later failure re-record shown when the earlier success write lands', async function () {
    const success = store.record(status('door', 1, 0));
    const failure = store.record(status('door', 2, 1));
    expect((await store.get('door'))!.groups[0]!.resultCode).to.equal(1);
    inner.land(1); // the success reaches the disk first
    await success;
    await tick();
    expect(inner.stored.get('door')!.groups[0]!.resultCode).to.equal(0);
    expect((await store.get('door'))!.groups[0]!.resultCode, 'the earlier success must not overtake the failure').to.equal(1);
    inner.land(1);
    await failure;
    expect((await store.get('door'))!.groups[0]!.resultCode).to.equal(1);
  });

  it('drops a record whose write failed, and the write rejects', async function () {
    inner.holding = false;
    await store.record(status('door', 1));
    inner.holding = true;
    const failing = store.record(status('door', 2));
    expect((await store.get('door'))!.syncTime).to.equal(2);
    inner.failNext();
    expect(await settled(failing)).to.equal('rejected');
    await tick();
    expect((await store.get('door'))!.syncTime).to.equal(1);
  });

  it('a failed earlier write does not hide a later pending one', async function () {
    const first = store.record(status('door', 1));
    void store.record(status('door', 2));
    inner.failNext();
    expect(await settled(first)).to.equal('rejected');
    await tick();
    expect((await store.get('door'))!.syncTime).to.equal(2);
    inner.land();
  });

  it('close() writes the pending records before closing the backend, then refuses new ones', async function () {
    const written = store.record(status('door', 1));
    const closed = store.close();
    await tick();
    expect(inner.closed, 'closed before the pending write landed').to.equal(false);
    expect(await settled(store.record(status('late', 2)))).to.equal('rejected');
    inner.land();
    await written;
    await closed;
    expect(inner.closed).to.equal(true);
    expect(inner.stored.get('door')!.syncTime).to.equal(1);
    expect(inner.stored.has('late')).to.equal(false);
  });

  it('backup() waits for the pending writes', async function () {
    void store.record(status('door', 1));
    let backedUp = false;
    const backup = store.backup('unused').then(() => (backedUp = true));
    await tick();
    expect(backedUp).to.equal(false);
    inner.land();
    await backup;
    expect(inner.stored.has('door')).to.equal(true);
  });
});
