// Unit tests for the ordered delivery of committed changes.
import { expect } from 'chai';
import type { GroupId, GroupName, LibraryId } from '../../server/core/ids.js';
import { CommitNotifier } from '../../storage/lmdb/commit-notifier.js';
import type { CommittedChange } from '../../storage/store.js';

function change(version: number): CommittedChange {
  const group = {
    groupId: 1 as GroupId,
    library: 'default' as LibraryId,
    name: 'g' as GroupName,
    version,
    createdAt: 0,
    updatedAt: 0,
    faceCount: 0,
    userCount: 0,
    tokenDigest: '0000000000000000',
    deletedAt: null,
  };
  return { group, change: { groupId: group.groupId, version, op: 'create', at: 0 } };
}

describe('CommitNotifier', function () {
  it('delivers in ticket order even when commits complete out of order, skipping abandoned tickets', function () {
    const notifier = new CommitNotifier(() => {});
    const seen: number[] = [];
    notifier.subscribe((c) => seen.push(c.change.version));
    const [t0, t1, t2, t3] = [notifier.reserve(), notifier.reserve(), notifier.reserve(), notifier.reserve()];
    notifier.complete(t2!, [change(3), change(4)]);
    notifier.complete(t1!, [change(2)]);
    expect(seen).to.deep.equal([]);
    notifier.complete(t0!, [change(1)]);
    expect(seen).to.deep.equal([1, 2, 3, 4]);
    notifier.abandon(t3!);
    const t4 = notifier.reserve();
    notifier.complete(t4, [change(5)]);
    expect(seen).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('isolates throwing listeners and supports unsubscribing, also the same function twice', function () {
    const errors: unknown[] = [];
    const notifier = new CommitNotifier((error) => errors.push(error));
    const seen: number[] = [];
    const fn = (c: CommittedChange) => seen.push(c.change.version);
    notifier.subscribe(() => {
      throw new Error('x');
    });
    const off1 = notifier.subscribe(fn);
    notifier.subscribe(fn);
    notifier.complete(notifier.reserve(), [change(1)]);
    expect(seen).to.deep.equal([1, 1]);
    expect(errors).to.have.length(1);
    off1();
    notifier.complete(notifier.reserve(), [change(2)]);
    expect(seen).to.deep.equal([1, 1, 2]);
  });

  it('keeps order when a listener completes another ticket re-entrantly', function () {
    const notifier = new CommitNotifier(() => {});
    const seen: number[] = [];
    const t0 = notifier.reserve();
    const t1 = notifier.reserve();
    notifier.subscribe((c) => {
      seen.push(c.change.version);
      if (c.change.version === 1) notifier.complete(t1, [change(2)]);
    });
    notifier.complete(t0, [change(1)]);
    expect(seen).to.deep.equal([1, 2]);
  });
});
