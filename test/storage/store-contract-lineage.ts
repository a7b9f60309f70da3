// Contract for backup() and beginRestoredLineage(): part of the FaceStore
// contract suite (runFaceStoreContract calls it inside its describe).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { FaceStore } from '../../storage/store.js';
import { addFaces, faceRecord, gname, imageRecord, lib } from './store-model.js';

const L = lib('default');

export interface LineageHarness {
  store: () => FaceStore;
  /** Opens a directory written by backup() as a store (closed by the test). */
  openCopy: () => ((dir: string) => Promise<FaceStore>) | undefined;
  /** Closes nothing itself: the caller closed the store; returns the reopened one (or undefined without reopen). */
  reopen: () => (() => Promise<FaceStore>) | undefined;
}

export function lineageContract(harness: LineageHarness): void {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facestore-backup-'));
    dirs.push(dir);
    return join(dir, 'copy');
  };
  afterEach(async function () {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  describe('backup', function () {
    it('copies everything at one point in time while writes go on', async function () {
      const openCopy = harness.openCopy();
      if (!openCopy) this.skip();
      const store = harness.store();
      const face = faceRecord(1, L);
      await store.addImage({ ...imageRecord(1, new Uint8Array([1, 2, 3, 4])), imageId: face.imageId }, face);
      const tokens = [face.faceToken, ...(await addFaces(store, L, 2, 40))];
      const { group } = await store.createGroup(L, gname('lobby'));
      for (const token of tokens.slice(0, 20)) await store.bind(L, gname('lobby'), token, { userId: `u${token.slice(-2)}` });
      // Binds racing with the copy: it holds some prefix of them, consistently.
      const racing = tokens.slice(20).map((token) => store.bind(L, gname('lobby'), token));
      const dir = await tempDir();
      await store.backup(dir);
      await Promise.all(racing);

      const copy = await openCopy(dir);
      try {
        const copied = (await copy.snapshotGroup(group.groupId))!;
        expect(copied.group.faceCount).to.equal(copied.bindings.length);
        expect(copied.bindings.length).to.be.within(20, tokens.length);
        expect(copied.group.version).to.equal(1 + copied.bindings.length);
        const log = await copy.readChanges(group.groupId, { afterVersion: 0, limit: 100 });
        expect(log.at(-1)!.version).to.equal(copied.group.version);
        const now = (await store.snapshotGroup(group.groupId))!;
        const copiedTokens = copied.bindings.map((binding) => binding.faceToken);
        for (const token of tokens.slice(0, 20)) expect(copiedTokens).to.include(token);
        for (const binding of copied.bindings) expect(now.bindings).to.deep.include(binding);
        expect(Array.from((await copy.getFace(face.faceToken))!.feature)).to.deep.equal(Array.from(face.feature));
        expect(Array.from((await copy.getImage(face.imageId))!.bytes)).to.deep.equal([1, 2, 3, 4]);
        expect(await copy.deltaSince(group.groupId, 5)).to.deep.equal(await copyDeltaFromLive(store, group.groupId, 5, copied.group.version));
      } finally {
        await copy.close();
      }
    });
  });

  describe('beginRestoredLineage', function () {
    it('keeps deltas from versions the store had, refuses the skipped ones, and hands out versions and ids above the base', async function () {
      const store = harness.store();
      const tokens = await addFaces(store, L, 1, 6);
      const { group } = await store.createGroup(L, gname('lobby'));
      await store.createGroup(L, gname('gone'));
      await store.deleteGroup(L, gname('gone'));
      for (const token of tokens.slice(0, 3)) await store.bind(L, gname('lobby'), token);
      const restoredAt = group.version + 3; // create + 3 binds

      const base = 1_000_000;
      expect(await store.beginRestoredLineage(base)).to.deep.equal({ base, groups: 1 });
      const moved = (await store.getGroup(L, gname('lobby')))!;
      expect(moved).to.include({ groupId: group.groupId, version: base, faceCount: 3 });
      // Known versions: deltas as before, now to the base.
      expect(await store.deltaSince(group.groupId, restoredAt)).to.deep.equal({ fromVersion: restoredAt, toVersion: base, upserted: [], removed: [] });
      expect((await store.deltaSince(group.groupId, group.version))!.upserted).to.deep.equal([...tokens.slice(0, 3)].sort());
      // Versions the store never had (a terminal that saw the lost history): no delta.
      for (const from of [restoredAt + 1, restoredAt + 2, base - 1]) expect(await store.deltaSince(group.groupId, from), `v${from}`).to.equal(null);

      const bound = (await store.bind(L, gname('lobby'), tokens[3]!))!;
      expect(bound.group.version).to.equal(base + 1);
      expect((await store.deltaSince(group.groupId, restoredAt))!.upserted).to.deep.equal([tokens[3]]);
      expect((await store.deltaSince(group.groupId, base))!.upserted).to.deep.equal([tokens[3]]);
      expect(await store.deltaSince(group.groupId, restoredAt + 1)).to.equal(null);

      // A group created now cannot share an id with one the lost history created.
      const fresh = await store.createGroup(L, gname('newer'));
      expect(fresh.group.groupId).to.be.at.least(base);
      const recreated = await store.createGroup(L, gname('gone'));
      expect(recreated.group.version).to.be.greaterThan(base);

      // Compaction keeps the gap and counts only real changes for its "newest K".
      await store.compact({ keepChangesPerGroup: 2, maxAgeMs: 0 }, Date.now() + 1);
      expect(await store.deltaSince(group.groupId, restoredAt + 1)).to.equal(null);
      expect((await store.deltaSince(group.groupId, restoredAt))!.upserted).to.deep.equal([tokens[3]]);
    });

    it('never goes below what the store already has, and remembers every gap across a second restore and a reopen', async function () {
      const store = harness.store();
      const [token] = await addFaces(store, L, 1, 2);
      const { group } = await store.createGroup(L, gname('lobby'));
      await store.bind(L, gname('lobby'), token!);
      const first = await store.beginRestoredLineage(1); // below the current version: raised
      expect(first.base).to.be.greaterThan(group.version + 1);
      const second = await store.beginRestoredLineage(first.base + 100);
      expect(second.base).to.equal(first.base + 100);
      let current = store;
      const reopen = harness.reopen();
      if (reopen) {
        await store.close();
        current = await reopen();
      }
      expect((await current.getGroup(L, gname('lobby')))!.version).to.equal(second.base);
      expect(await current.deltaSince(group.groupId, first.base + 99)).to.equal(null);
      expect(await current.deltaSince(group.groupId, first.base + 1)).to.equal(null);
      expect(await current.deltaSince(group.groupId, first.base)).to.deep.equal({ fromVersion: first.base, toVersion: second.base, upserted: [], removed: [] });
      expect((await current.deltaSince(group.groupId, group.version))!.upserted).to.deep.equal([token]);
      await expectRejects(current.beginRestoredLineage(0));
    });
  });
}

async function copyDeltaFromLive(store: FaceStore, groupId: number, from: number, to: number) {
  // The live store moved on; the copy's delta is the live log's net effect up to the copy's version.
  const log = await store.readChanges(groupId as never, { afterVersion: from, limit: 1000 });
  const last = new Map<string, string>();
  for (const change of log) if (change.version <= to && change.faceToken) last.set(change.faceToken, change.op);
  const upserted = [...last].filter(([, op]) => op === 'bind').map(([t]) => t).sort();
  return { fromVersion: from, toVersion: to, upserted, removed: [] };
}

async function expectRejects(promise: Promise<unknown>): Promise<void> {
  let failed = false;
  try {
    await promise;
  } catch {
    failed = true;
  }
  expect(failed).to.equal(true);
}
