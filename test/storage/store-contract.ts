// The FaceStore contract suite: every backend must pass it. Run it with
// `runFaceStoreContract(name, openStore)` from a *.test.ts file.
//
// `openStore` gives a fresh, empty store per test. When it also returns
// `reopen`, the persistence tests close the store and open the same data
// again (the harness's `cleanup` must then close whichever store is current).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { isFaceError } from '../../server/core/errors.js';
import type { FaceToken, LibraryId } from '../../server/core/ids.js';
import type { CommittedChange, CompactionPolicy, CompactionResult, FaceStore } from '../../storage/store.js';
import {
  addFaces,
  checkAgainstModel,
  checkDelta,
  digestHex,
  expectFaceError,
  faceRecord,
  faceToken,
  featureFor,
  gid,
  gname,
  imageRecord,
  lib,
  prng,
  randomOps,
  StoreModel,
  type ModelGroup,
  type RandomOpsOptions,
} from './store-model.js';
import { lineageContract } from './store-contract-lineage.js';

export interface OpenedStore {
  store: FaceStore;
  /** Closes the current store (also one returned by `reopen`) and removes its data. */
  cleanup: () => Promise<void>;
  /** Opens the same data again; the caller has closed the previous store first. */
  reopen?: () => Promise<FaceStore>;
  /** Opens a directory written by `store.backup(dir)` as a store of the same backend. */
  openCopy?: (dir: string) => Promise<FaceStore>;
}

const L = lib('default');
const OTHER = lib('app-2');

export function runFaceStoreContract(name: string, openStore: () => Promise<OpenedStore>): void {
  describe(`FaceStore contract: ${name}`, function () {
    let opened: OpenedStore;
    let store: FaceStore;

    beforeEach(async function () {
      opened = await openStore();
      store = opened.store;
    });

    afterEach(async function () {
      await opened.cleanup();
    });

    lineageContract({
      store: () => store,
      openCopy: () => opened.openCopy,
      reopen: () => (opened.reopen ? async () => (store = await opened.reopen!()) : undefined),
    });

    describe('images and faces', function () {
      it('stores an image byte for byte and a face with its exact feature', async function () {
        const bytes = new Uint8Array(randomBytes(1 << 20));
        const face = faceRecord(1, L);
        await store.addImage({ ...imageRecord(1, bytes), mime: 'image/png' }, face);
        const image = await store.getImage(face.imageId);
        expect(image).to.not.equal(undefined);
        expect(image!.mime).to.equal('image/png');
        expect([image!.width, image!.height, image!.createdAt]).to.deep.equal([640, 480, imageRecord(1).createdAt]);
        expect(Buffer.from(image!.bytes).equals(Buffer.from(bytes))).to.equal(true);
        const got = await store.getFace(face.faceToken);
        expect(got).to.not.equal(undefined);
        expect(got!.feature).to.be.instanceOf(Float32Array);
        expect(Array.from(got!.feature)).to.deep.equal(Array.from(featureFor(1)));
        const { feature: _f, ...rest } = got!;
        const { feature: _g, ...expected } = face;
        expect(rest).to.deep.equal(expected);
      });

      it('stores an image without a face, and answers undefined for unknown ids', async function () {
        await store.addImage(imageRecord(7));
        expect((await store.getImage(imageRecord(7).imageId))!.bytes).to.deep.equal(imageRecord(7).bytes);
        expect(await store.getImage(imageRecord(8).imageId)).to.equal(undefined);
        expect(await store.getFace(faceToken(8))).to.equal(undefined);
      });

      it('getFaces answers in the order given, undefined where absent', async function () {
        const tokens = await addFaces(store, L, 1, 3);
        const got = await store.getFaces([tokens[2]!, faceToken(99), tokens[0]!]);
        expect(got.map((f) => f?.faceToken)).to.deep.equal([tokens[2], undefined, tokens[0]]);
        expect(await store.getFaces([])).to.deep.equal([]);
      });

      it('getFeatures answers live faces\' exact features in the order given, undefined where absent or deleted', async function () {
        const tokens = await addFaces(store, L, 1, 3);
        await store.deleteFace(tokens[1]!);
        const got = await store.getFeatures([tokens[2]!, faceToken(99), tokens[1]!, tokens[0]!]);
        const faces = await store.getFaces([tokens[2]!, tokens[0]!]);
        expect(got.map((f) => f && Array.from(f))).to.deep.equal([Array.from(faces[0]!.feature), undefined, undefined, Array.from(faces[1]!.feature)]);
        expect(await store.getFeatures([])).to.deep.equal([]);
      });

      it('deleteFace keeps the record and image, drops the feature, and refuses a second delete', async function () {
        const [token] = await addFaces(store, L, 1, 1);
        expect(await store.deleteFace(token!)).to.deep.equal([]);
        const face = await store.getFace(token!);
        expect(face!.deletedAt).to.be.a('number');
        expect(face!.feature.length).to.equal(0);
        expect(face!.modelVersion).to.equal('test-model-1');
        expect(await store.getImage(face!.imageId)).to.not.equal(undefined);
        await expectFaceError(store.deleteFace(token!), 'FACE_TOKEN_NOT_FOUND');
        await expectFaceError(store.deleteFace(faceToken(42)), 'FACE_TOKEN_NOT_FOUND');
      });
    });

    describe('face list', function () {
      it('lists the live faces of one library in token order, page by page', async function () {
        const tokens = (await addFaces(store, L, 1, 5)).sort();
        const elsewhere = await addFaces(store, 'contract-other' as LibraryId, 100, 2, 'G');
        await store.deleteFace(tokens[2]!);
        const live = tokens.filter((_, i) => i !== 2);
        const first = await store.listFaces(L, { limit: 2 });
        const rest = await store.listFaces(L, { after: first[1], limit: 10 });
        expect([...first, ...rest]).to.deep.equal(live);
        expect(await store.listFaces(L, { after: live.at(-1), limit: 10 })).to.deep.equal([]);
        expect(await store.listFaces(L, { limit: 0 })).to.deep.equal([]);
        expect(await store.listFaces('contract-other' as LibraryId, { limit: 10 })).to.deep.equal(elsewhere);
        expect(await store.listFaces('no-such-library' as LibraryId, { limit: 10 })).to.deep.equal([]);
      });
    });

    describe('model upgrade', function () {
      it('lists live faces of other models page by page, and replaces their features without touching group versions', async function () {
        const tokens = await addFaces(store, L, 1, 5);
        await store.deleteFace(tokens[4]!);
        await store.createGroup(L, gname('upgrade'));
        await store.bind(L, gname('upgrade'), tokens[0]!);
        const version = (await store.getGroup(L, gname('upgrade')))!.version;

        const first = await store.facesOfOtherModels('test-model-2', { limit: 2 });
        const rest = await store.facesOfOtherModels('test-model-2', { after: first[1]!.faceToken, limit: 10 });
        expect([...first, ...rest].map((f) => f.faceToken)).to.deep.equal(tokens.slice(0, 4).sort());
        expect(await store.facesOfOtherModels('test-model-1', { limit: 10 })).to.deep.equal([]);

        const replacement = featureFor(9);
        expect(await store.replaceFeature(tokens[0]!, replacement, 'test-model-2')).to.equal(true);
        const face = (await store.getFace(tokens[0]!))!;
        expect(face.modelVersion).to.equal('test-model-2');
        expect(Array.from(face.feature)).to.deep.equal(Array.from(replacement));
        expect((await store.facesOfOtherModels('test-model-2', { limit: 10 })).map((f) => f.faceToken)).to.not.include(tokens[0]);
        expect(await store.replaceFeature(tokens[4]!, replacement, 'test-model-2')).to.equal(false);
        expect(await store.replaceFeature(faceToken(77), replacement, 'test-model-2')).to.equal(false);
        expect((await store.getGroup(L, gname('upgrade')))!.version).to.equal(version);
      });
      it('counts live faces per feature model in the writes themselves: add, re-extract, delete, reopen', async function () {
        expect(await store.featureModels()).to.deep.equal(new Map());
        const tokens = await addFaces(store, L, 1, 4);
        const deletedOnArrival = { ...faceRecord(9, L), deletedAt: 1, feature: new Float32Array(0) };
        await store.addImage({ ...imageRecord(9), imageId: deletedOnArrival.imageId }, deletedOnArrival);
        expect(await store.featureModels()).to.deep.equal(new Map([['test-model-1', 4]]));
        await store.replaceFeature(tokens[0]!, featureFor(7), 'test-model-2');
        await store.replaceFeature(tokens[1]!, featureFor(8), 'test-model-2');
        await store.replaceFeature(tokens[1]!, featureFor(8), 'test-model-2');
        await store.deleteFace(tokens[2]!);
        expect(await store.replaceFeature(tokens[2]!, featureFor(9), 'test-model-2'), 'deleted: not replaced').to.equal(false);
        expect(await store.featureModels()).to.deep.equal(new Map([['test-model-1', 1], ['test-model-2', 2]]));
        await store.deleteFace(tokens[3]!);
        expect(await store.featureModels(), 'a model with no live face left is absent').to.deep.equal(new Map([['test-model-2', 2]]));
        if (!opened.reopen) return;
        await store.close();
        store = await opened.reopen();
        expect(await store.featureModels()).to.deep.equal(new Map([['test-model-2', 2]]));
      });
      it('stages new features beside the served ones and switches them in one call; new faces of the new model wait for it', async function () {
        const tokens = await addFaces(store, L, 1, 4);
        await store.createGroup(L, gname('switch'));
        await store.bind(L, gname('switch'), tokens[0]!);
        const version = (await store.getGroup(L, gname('switch')))!.version;
        expect(await store.featureUpgrade()).to.equal(undefined);
        expect(await store.beginFeatureUpgrade('test-model-2', 'test-model-1')).to.include({ from: 'test-model-1', to: 'test-model-2', staged: 0, failed: 0, total: 4 });
        expect(await store.servedFeatureModel()).to.equal('test-model-1');
        expect(await store.stageFeature(tokens[0]!, 'test-model-2', featureFor(100))).to.equal(true);
        expect(await store.stageFeature(tokens[1]!, 'test-model-9', featureFor(101)), 'another model').to.equal(false);
        expect(await store.markUpgradeFailed(tokens[2]!, 'test-model-2', 'photo missing')).to.equal(true);
        // Served: still the old features.
        expect(Array.from((await store.getFace(tokens[0]!))!.feature)).to.deep.equal(Array.from(featureFor(1)));
        expect((await store.getFeaturesOf('test-model-2', [tokens[0]!, tokens[1]!])).map((f) => f && Array.from(f))).to.deep.equal([Array.from(featureFor(100)), undefined]);
        // A face of the new model added now: staged, no served feature.
        const fresh = { ...faceRecord(50, L), modelVersion: 'test-model-2', feature: featureFor(150) };
        await store.addImage({ ...imageRecord(50), imageId: fresh.imageId }, fresh);
        expect((await store.getFace(fresh.faceToken))!.feature.length).to.equal(0);
        await store.deleteFace(tokens[3]!);
        expect((await store.facesToUpgrade({ limit: 10 })).map((f) => f.faceToken)).to.deep.equal([tokens[1]]);
        expect(await store.featureUpgrade()).to.include({ staged: 2, failed: 1, total: 4 });
        const early = await store.finishFeatureUpgrade('test-model-2');
        expect(early).to.deep.include({ switched: false, pending: [tokens[1]] });
        expect(Array.from((await store.getFace(tokens[0]!))!.feature), 'nothing written').to.deep.equal(Array.from(featureFor(1)));
        expect(await store.stageFeature(tokens[1]!, 'test-model-2', featureFor(101))).to.equal(true);
        const done = await store.finishFeatureUpgrade('test-model-2');
        expect(done).to.deep.include({ switched: true, pending: [], faces: 3, failed: [{ faceToken: tokens[2], reason: 'photo missing' }] });
        for (const [token, n] of [[tokens[0]!, 100], [tokens[1]!, 101], [fresh.faceToken, 150]] as const) {
          const face = (await store.getFace(token))!;
          expect(face.modelVersion).to.equal('test-model-2');
          expect(Array.from(face.feature)).to.deep.equal(Array.from(featureFor(n)));
        }
        const failed = (await store.getFace(tokens[2]!))!;
        expect([failed.deletedAt, failed.modelVersion, failed.feature.length]).to.deep.equal([null, '', 0]);
        expect(await store.featureModels()).to.deep.equal(new Map([['test-model-2', 3]]));
        expect(await store.servedFeatureModel()).to.equal('test-model-2');
        expect(await store.featureUpgrade()).to.equal(undefined);
        expect((await store.getGroup(L, gname('switch')))!.version, 'no group version changes').to.equal(version);
        if (!opened.reopen) return;
        await store.close();
        store = await opened.reopen();
        expect(await store.servedFeatureModel()).to.equal('test-model-2');
        expect(await store.featureModels()).to.deep.equal(new Map([['test-model-2', 3]]));
      });
    });

    describe('groups and versions', function () {
      it('counts versions: create 1, bind/unbind/delete +1, re-create continues with a new group id', async function () {
        const [a, b] = await addFaces(store, L, 1, 2);
        const created = await store.createGroup(L, gname('g'));
        expect(created.change).to.include({ version: 1, op: 'create' });
        expect(created.group).to.include({ version: 1, faceCount: 0, tokenDigest: '0000000000000000', deletedAt: null, name: 'g', library: L });
        const g1 = created.group.groupId;
        expect((await store.bind(L, gname('g'), a!))!.group.version).to.equal(2);
        expect(await store.bind(L, gname('g'), a!), 'binding again changes nothing').to.equal(null);
        expect((await store.getGroup(L, gname('g')))!.version).to.equal(2);
        expect((await store.bind(L, gname('g'), b!))!.group.version).to.equal(3);
        expect((await store.unbind(L, gname('g'), a!)).group.version).to.equal(4);
        const deleted = await store.deleteGroup(L, gname('g'));
        expect(deleted.change).to.include({ version: 5, op: 'delete', groupId: g1 });
        expect(deleted.group.deletedAt).to.be.a('number');
        expect(await store.getGroup(L, gname('g'))).to.equal(undefined);
        const again = await store.createGroup(L, gname('g'));
        expect(again.group.version, 're-created name continues the counter').to.equal(6);
        expect(again.group.groupId).to.not.equal(g1);
        expect(again.group.faceCount).to.equal(0);
        const old = await store.getGroupById(g1);
        expect(old).to.include({ version: 5, groupId: g1 });
        expect(old!.deletedAt).to.be.a('number');
        expect((await store.getGroup(L, gname('g')))!.groupId).to.equal(again.group.groupId);
        // Same name in another library is another group with its own counter.
        expect((await store.createGroup(OTHER, gname('g'))).group.version).to.equal(1);
      });

      it('lists the live groups of a library sorted by name', async function () {
        for (const n of ['delta', 'alpha', 'charlie', 'bravo']) await store.createGroup(L, gname(n));
        await store.createGroup(OTHER, gname('zulu'));
        await store.deleteGroup(L, gname('charlie'));
        expect((await store.listGroups(L)).map((g) => g.name)).to.deep.equal(['alpha', 'bravo', 'delta']);
        expect((await store.listGroups(OTHER)).map((g) => g.name)).to.deep.equal(['zulu']);
        expect(await store.listGroups(lib('none'))).to.deep.equal([]);
      });

      it('lists the live groups of every library, sorted by library and name', async function () {
        expect(await store.listAllGroups()).to.deep.equal([]);
        for (const n of ['delta', 'alpha', 'charlie']) await store.createGroup(L, gname(n));
        await store.createGroup(OTHER, gname('zulu'));
        await store.deleteGroup(L, gname('charlie'));
        const all = await store.listAllGroups();
        expect(all.map((g) => [g.library, g.name])).to.deep.equal([[OTHER, 'zulu'], [L, 'alpha'], [L, 'delta']]);
        expect(all[1]).to.deep.equal(await store.getGroup(L, gname('alpha')));
      });

      it('reports errors with their codes', async function () {
        const [a] = await addFaces(store, L, 1, 1);
        await store.createGroup(L, gname('g'));
        await expectFaceError(store.createGroup(L, gname('g')), 'GROUP_NAME_CONFLICT');
        await expectFaceError(store.deleteGroup(L, gname('nope')), 'GROUP_NOT_FOUND');
        await expectFaceError(store.bind(L, gname('nope'), a!), 'GROUP_NOT_FOUND');
        await expectFaceError(store.unbind(L, gname('nope'), a!), 'GROUP_NOT_FOUND');
        await expectFaceError(store.bind(L, gname('g'), faceToken(77)), 'FACE_TOKEN_NOT_FOUND');
        await expectFaceError(store.unbind(L, gname('g'), a!), 'BINDING_NOT_FOUND');
        await store.deleteFace(a!);
        await expectFaceError(store.bind(L, gname('g'), a!), 'FACE_TOKEN_NOT_FOUND');
        // Failed calls changed nothing.
        const group = await store.getGroup(L, gname('g'));
        expect(group!.version).to.equal(1);
        expect(await store.readChanges(group!.groupId, { afterVersion: 0, limit: 10 })).to.have.length(1);
      });
    });

    describe('bindings', function () {
      it('keeps user data, pages by face token, and tracks faceCount and tokenDigest', async function () {
        const tokens = await addFaces(store, L, 1, 25);
        const { group } = await store.createGroup(L, gname('g'));
        for (const [i, t] of tokens.entries()) {
          await store.bind(L, gname('g'), t, i % 2 === 0 ? { userId: `user-${i}`, userInfo: `info ${i}` } : undefined);
        }
        const pages: FaceToken[][] = [];
        let after: FaceToken | undefined;
        for (;;) {
          const page = await store.listBindings(group.groupId, after === undefined ? { limit: 10 } : { after, limit: 10 });
          if (page.length === 0) break;
          pages.push(page.map((b) => b.faceToken));
          after = page[page.length - 1]!.faceToken;
        }
        expect(pages.map((p) => p.length)).to.deep.equal([10, 10, 5]);
        expect(pages.flat()).to.deep.equal(tokens);
        const first = (await store.listBindings(group.groupId, { limit: 1 }))[0]!;
        expect(first).to.include({ faceToken: tokens[0], userId: 'user-0', userInfo: 'info 0' });
        expect(first.boundAt).to.be.a('number');
        const second = (await store.listBindings(group.groupId, { after: tokens[0]!, limit: 1 }))[0]!;
        expect(second).to.not.have.property('userId');
        const record = await store.getGroup(L, gname('g'));
        expect(record!.faceCount).to.equal(25);
        expect(record!.tokenDigest).to.equal(digestHex(tokens));
        await store.unbind(L, gname('g'), tokens[3]!);
        const after3 = await store.getGroup(L, gname('g'));
        expect(after3!.faceCount).to.equal(24);
        expect(after3!.tokenDigest).to.equal(digestHex(tokens.filter((_, i) => i !== 3)));
        expect(await store.listBindings(gid(999), { limit: 10 })).to.deep.equal([]);
      });

      it('getBindings looks up given faces in order, undefined where not bound', async function () {
        const tokens = await addFaces(store, L, 1, 3);
        const { group } = await store.createGroup(L, gname('g'));
        await store.bind(L, gname('g'), tokens[0]!, { userId: 'u0' });
        await store.bind(L, gname('g'), tokens[2]!);
        const found = await store.getBindings(group.groupId, [tokens[2]!, tokens[1]!, tokens[0]!]);
        expect(found.map((b) => b?.faceToken)).to.deep.equal([tokens[2], undefined, tokens[0]]);
        expect(found[2]).to.include({ userId: 'u0' });
        expect(await store.getBindings(gid(999), [tokens[0]!])).to.deep.equal([undefined]);
      });

      it('snapshotGroup returns the group and all its bindings at one version', async function () {
        const tokens = await addFaces(store, L, 1, 5);
        const { group } = await store.createGroup(L, gname('g'));
        for (const t of tokens) await store.bind(L, gname('g'), t);
        const snapshot = await store.snapshotGroup(group.groupId);
        expect(snapshot!.group.version).to.equal(6);
        expect(snapshot!.bindings.map((b) => b.faceToken)).to.deep.equal(tokens);
        expect(await store.snapshotGroup(gid(999))).to.equal(undefined);
      });

      it('deleteFace unbinds the face from every group (each bumps and logs) and marks it deleted', async function () {
        const [a, b] = await addFaces(store, L, 1, 2);
        for (const n of ['g1', 'g2', 'g3', 'g4']) await store.createGroup(L, gname(n));
        for (const n of ['g1', 'g2', 'g3']) await store.bind(L, gname(n), a!);
        await store.bind(L, gname('g2'), b!);
        expect((await store.groupsOfFace(a!)).map((g) => g.name).sort()).to.deep.equal(['g1', 'g2', 'g3']);
        const changes = await store.deleteFace(a!);
        expect(changes).to.have.length(3);
        for (const c of changes) {
          expect(c.change).to.include({ op: 'unbind', faceToken: a, version: c.group.version });
          expect(c.group.version).to.equal(c.group.name === 'g2' ? 4 : 3);
        }
        expect(changes.map((c) => c.group.name).sort()).to.deep.equal(['g1', 'g2', 'g3']);
        expect(await store.groupsOfFace(a!)).to.deep.equal([]);
        expect((await store.getGroup(L, gname('g2')))!).to.include({ faceCount: 1, tokenDigest: digestHex([b!]) });
        expect((await store.getGroup(L, gname('g4')))!.version).to.equal(1);
        expect((await store.getFace(a!))!.deletedAt).to.be.a('number');
        const g1 = await store.getGroup(L, gname('g1'));
        expect((await store.readChanges(g1!.groupId, { afterVersion: 2, limit: 5 })).map((c) => c.op)).to.deep.equal(['unbind']);
      });

      it('deleteGroup removes all bindings (and the reverse index), bumps once and frees the name', async function () {
        const tokens = await addFaces(store, L, 1, 4);
        const { group } = await store.createGroup(L, gname('g'));
        await store.createGroup(L, gname('h'));
        for (const t of tokens) await store.bind(L, gname('g'), t);
        await store.bind(L, gname('h'), tokens[0]!);
        const deleted = await store.deleteGroup(L, gname('g'));
        expect(deleted.group).to.include({ version: 6, faceCount: 0 });
        expect(await store.listBindings(group.groupId, { limit: 10 })).to.deep.equal([]);
        expect((await store.groupsOfFace(tokens[0]!)).map((g) => g.name)).to.deep.equal(['h']);
        expect(await store.groupsOfFace(tokens[1]!)).to.deep.equal([]);
        const snapshot = await store.snapshotGroup(group.groupId);
        expect(snapshot!.group.deletedAt).to.be.a('number');
        expect(snapshot!.bindings).to.deep.equal([]);
        expect(await store.deltaSince(group.groupId, 3), 'deleted group: no delta').to.equal(null);
        await expectFaceError(store.bind(L, gname('g'), tokens[0]!), 'GROUP_NOT_FOUND');
        await expectFaceError(store.deleteGroup(L, gname('g')), 'GROUP_NOT_FOUND');
        // The faces are intact and can be bound to the re-created group.
        await store.createGroup(L, gname('g'));
        expect((await store.bind(L, gname('g'), tokens[1]!))!.group.version).to.equal(8);
        // A face deleted afterwards only touches live groups.
        expect((await store.deleteFace(tokens[1]!)).map((c) => c.group.version)).to.deep.equal([9]);
      });
    });

    describe('users and libraries', function () {
      it('counts users per group, lists them by user id with offset paging, and reads one user with its faces', async function () {
        const tokens = await addFaces(store, L, 1, 6);
        const { group } = await store.createGroup(L, gname('g'));
        await store.bind(L, gname('g'), tokens[0]!, { userId: 'bob', userInfo: 'Bob' });
        await store.bind(L, gname('g'), tokens[1]!, { userId: 'alice', userInfo: 'Alice' });
        await store.bind(L, gname('g'), tokens[2]!, { userId: 'bob' });
        await store.bind(L, gname('g'), tokens[3]!);
        const record = await store.getGroup(L, gname('g'));
        expect([record!.faceCount, record!.userCount]).to.deep.equal([4, 2]);
        expect(await store.listGroupUsers(group.groupId, { offset: 0, limit: 10 })).to.deep.equal([
          { userId: 'alice', userInfo: 'Alice', faceCount: 1 },
          { userId: 'bob', userInfo: 'Bob', faceCount: 2 },
        ]);
        expect((await store.listGroupUsers(group.groupId, { offset: 1, limit: 10 })).map((u) => u.userId)).to.deep.equal(['bob']);
        expect(await store.listGroupUsers(group.groupId, { offset: 2, limit: 10 })).to.deep.equal([]);
        expect((await store.listGroupUsers(group.groupId, { offset: 0, limit: 1 })).map((u) => u.userId)).to.deep.equal(['alice']);
        const bob = await store.getGroupUser(group.groupId, 'bob');
        expect(bob!.user).to.deep.equal({ userId: 'bob', userInfo: 'Bob', faceCount: 2 });
        // A bind without userInfo takes the user's current info.
        expect(bob!.bindings.map((b) => [b.faceToken, b.userId, b.userInfo])).to.deep.equal(
          [tokens[0], tokens[2]].sort().map((t) => [t, 'bob', 'Bob']),
        );
        expect(await store.getGroupUser(group.groupId, 'carol')).to.equal(undefined);
        await store.unbind(L, gname('g'), tokens[1]!);
        expect((await store.getGroup(L, gname('g')))!.userCount).to.equal(1);
        expect(await store.getGroupUser(group.groupId, 'alice')).to.equal(undefined);
      });

      it('a new userInfo rewrites every binding of the user, logged as unbind+bind so deltas re-send them', async function () {
        const tokens = await addFaces(store, L, 1, 3);
        const { group } = await store.createGroup(L, gname('g'));
        await store.bind(L, gname('g'), tokens[0]!, { userId: 'u', userInfo: 'old' });
        await store.bind(L, gname('g'), tokens[1]!, { userId: 'u', userInfo: 'old' });
        const before = (await store.getGroup(L, gname('g')))!.version;
        await store.bind(L, gname('g'), tokens[2]!, { userId: 'u', userInfo: 'new' });
        const after = await store.getGroup(L, gname('g'));
        expect(after!.version).to.equal(before + 5);
        expect([after!.faceCount, after!.userCount]).to.deep.equal([3, 1]);
        expect(after!.tokenDigest).to.equal(digestHex(tokens));
        const user = await store.getGroupUser(group.groupId, 'u');
        expect(user!.bindings.map((b) => b.userInfo)).to.deep.equal(['new', 'new', 'new']);
        const delta = await store.deltaSince(group.groupId, before);
        expect(delta!.upserted).to.deep.equal([...tokens].sort());
        expect(delta!.removed).to.deep.equal([]);
      });

      it('enforces maxFacesPerUser and replaces a user\'s faces in one transaction', async function () {
        const tokens = await addFaces(store, L, 1, 4);
        const { group } = await store.createGroup(L, gname('g'));
        await store.bind(L, gname('g'), tokens[0]!, { userId: 'u' }, { maxFacesPerUser: 2 });
        await store.bind(L, gname('g'), tokens[1]!, { userId: 'u' }, { maxFacesPerUser: 2 });
        await expectFaceError(store.bind(L, gname('g'), tokens[2]!, { userId: 'u' }, { maxFacesPerUser: 2 }), 'USER_FACE_LIMIT');
        expect((await store.getGroup(L, gname('g')))!.faceCount).to.equal(2);
        await store.bind(L, gname('g'), tokens[3]!, { userId: 'u', userInfo: 'replaced' }, { replaceUserFaces: true });
        const user = await store.getGroupUser(group.groupId, 'u');
        expect(user!.user).to.deep.equal({ userId: 'u', userInfo: 'replaced', faceCount: 1 });
        expect(user!.bindings.map((b) => b.faceToken)).to.deep.equal([tokens[3]]);
        expect((await store.getGroup(L, gname('g')))!.faceCount).to.equal(1);
      });

      it('groupsOfUser, copyUser and deleteUser keep the user indexes in step with the bindings', async function () {
        const tokens = await addFaces(store, L, 1, 3);
        await store.createGroup(L, gname('a'));
        await store.createGroup(L, gname('b'));
        await store.createGroup(L, gname('c'));
        await store.bind(L, gname('a'), tokens[0]!, { userId: 'u', userInfo: 'U' });
        await store.bind(L, gname('a'), tokens[1]!, { userId: 'u' });
        await store.bind(L, gname('b'), tokens[2]!, { userId: 'u', userInfo: 'other' });
        expect((await store.groupsOfUser(L, 'u')).map((g) => g.name)).to.deep.equal(['a', 'b']);
        expect(await store.groupsOfUser(OTHER, 'u')).to.deep.equal([]);
        await expectFaceError(store.copyUser(L, gname('a'), gname('c'), 'u', { maxFacesPerUser: 1 }), 'USER_FACE_LIMIT');
        await store.copyUser(L, gname('a'), gname('c'), 'u');
        const c = await store.getGroup(L, gname('c'));
        expect([c!.faceCount, c!.userCount]).to.deep.equal([2, 1]);
        expect((await store.getGroupUser(c!.groupId, 'u'))!.bindings.map((b) => b.userInfo)).to.deep.equal(['U', 'U']);
        // Copying into a group where the user exists takes the source's info for all its faces there.
        await store.copyUser(L, gname('a'), gname('b'), 'u');
        const b = await store.getGroup(L, gname('b'));
        expect((await store.getGroupUser(b!.groupId, 'u'))!.user).to.deep.equal({ userId: 'u', userInfo: 'U', faceCount: 3 });
        await expectFaceError(store.copyUser(L, gname('a'), gname('nope'), 'u'), 'GROUP_NOT_FOUND');
        await expectFaceError(store.copyUser(L, gname('a'), gname('b'), 'nobody'), 'USER_NOT_FOUND');
        await store.deleteUser(L, gname('c'), 'u');
        const cAfter = await store.getGroup(L, gname('c'));
        expect([cAfter!.faceCount, cAfter!.userCount]).to.deep.equal([0, 0]);
        expect((await store.groupsOfUser(L, 'u')).map((g) => g.name)).to.deep.equal(['a', 'b']);
        await expectFaceError(store.deleteUser(L, gname('c'), 'u'), 'USER_NOT_FOUND');
        await store.deleteGroup(L, gname('b'));
        expect((await store.groupsOfUser(L, 'u')).map((g) => g.name)).to.deep.equal(['a']);
        await store.createGroup(L, gname('b'));
        const reborn = await store.getGroup(L, gname('b'));
        expect(await store.getGroupUser(reborn!.groupId, 'u')).to.equal(undefined);
        await store.deleteFace(tokens[0]!);
        const a = await store.getGroup(L, gname('a'));
        expect((await store.getGroupUser(a!.groupId, 'u'))!.user.faceCount).to.equal(1);
      });

      it('lists the libraries that hold a live group', async function () {
        expect(await store.listLibraries()).to.deep.equal([]);
        await store.createGroup(lib('b_app'), gname('g'));
        await store.createGroup(lib('a'), gname('g1'));
        await store.createGroup(lib('a'), gname('g2'));
        await store.createGroup(lib('a_'), gname('g'));
        await store.createGroup(lib('ab'), gname('g'));
        expect(await store.listLibraries()).to.deep.equal(['a', 'a_', 'ab', 'b_app']);
        await store.deleteGroup(lib('ab'), gname('g'));
        expect(await store.listLibraries()).to.deep.equal(['a', 'a_', 'b_app']);
      });
    });

    describe('change log and deltas', function () {
      it('logs every change completely and in order; readChanges pages', async function () {
        const [a, b] = await addFaces(store, L, 1, 2);
        const { group } = await store.createGroup(L, gname('g'));
        await store.bind(L, gname('g'), a!);
        await store.bind(L, gname('g'), b!);
        await store.unbind(L, gname('g'), a!);
        const all = await store.readChanges(group.groupId, { afterVersion: 0, limit: 100 });
        expect(all.map((c) => [c.version, c.op, c.faceToken])).to.deep.equal([
          [1, 'create', undefined],
          [2, 'bind', a],
          [3, 'bind', b],
          [4, 'unbind', a],
        ]);
        for (const c of all) expect(c.groupId).to.equal(group.groupId);
        expect((await store.readChanges(group.groupId, { afterVersion: 1, limit: 2 })).map((c) => c.version)).to.deep.equal([2, 3]);
        expect(await store.readChanges(group.groupId, { afterVersion: 4, limit: 2 })).to.deep.equal([]);
      });

      it('deltaSince: edge cases', async function () {
        const [a, b] = await addFaces(store, L, 1, 2);
        const { group } = await store.createGroup(L, gname('g'));
        await store.bind(L, gname('g'), a!); // v2
        await store.bind(L, gname('g'), b!); // v3
        await store.unbind(L, gname('g'), b!); // v4
        expect(await store.deltaSince(group.groupId, 4)).to.deep.equal({ fromVersion: 4, toVersion: 4, upserted: [], removed: [] });
        expect(await store.deltaSince(group.groupId, 5), 'ahead of the store').to.equal(null);
        expect(await store.deltaSince(gid(12345), 1), 'unknown group').to.equal(null);
        expect(await store.deltaSince(group.groupId, 1)).to.deep.equal({ fromVersion: 1, toVersion: 4, upserted: [a], removed: [] });
        expect(await store.deltaSince(group.groupId, 2), 'bound and unbound inside the range').to.deep.equal({
          fromVersion: 2,
          toVersion: 4,
          upserted: [],
          removed: [],
        });
        expect(await store.deltaSince(group.groupId, 3)).to.deep.equal({ fromVersion: 3, toVersion: 4, upserted: [], removed: [b] });
        await store.bind(L, gname('g'), b!); // v5
        await store.unbind(L, gname('g'), a!); // v6
        await store.bind(L, gname('g'), a!); // v7: a unbound and re-bound, must be re-sent
        expect(await store.deltaSince(group.groupId, 4)).to.deep.equal({ fromVersion: 4, toVersion: 7, upserted: [a, b], removed: [] });
      });

      it('random operation sequences: state, digests and complete logs match a brute-force model', async function () {
        this.timeout(30_000);
        for (const seed of [1, 2]) {
          const rng = prng(seed);
          const model = new StoreModel();
          const library = lib(`lib-${seed}`);
          const opts: RandomOpsOptions = { library, names: ['a', 'b', 'c'], facePool: [], nextFace: { n: 1000 * seed }, prefix: `S${seed}` };
          opts.facePool.push(...(await addFaces(store, library, opts.nextFace.n, 12, opts.prefix)));
          opts.nextFace.n += 12;
          await randomOps(store, model, rng, 250, opts);
          await checkAgainstModel(store, model, { completeLog: true });
          for (const token of opts.facePool) {
            const holders = [...model.groups.values()].filter((g) => !g.deleted && g.bound.has(token)).map((g) => g.groupId).sort();
            expect((await store.groupsOfFace(token)).map((g) => g.groupId).sort()).to.deep.equal(holders);
          }
        }
      });

      it('deltaSince from every version equals the brute-force difference (exact, uncompacted)', async function () {
        this.timeout(30_000);
        for (const seed of [3, 4, 5]) {
          const rng = prng(seed);
          const model = new StoreModel();
          const library = lib(`lib-${seed}`);
          const opts: RandomOpsOptions = { library, names: ['a', 'b'], facePool: [], nextFace: { n: 1000 * seed }, prefix: `D${seed}` };
          opts.facePool.push(...(await addFaces(store, library, opts.nextFace.n, 10, opts.prefix)));
          opts.nextFace.n += 10;
          await randomOps(store, model, rng, 200, opts);
          await checkAllDeltas(store, model, { exact: true, mustAnswer: () => true });
        }
      });
    });

    describe('compaction', function () {
      it('bounds the log: superseded entries and old tombstones go, the newest K stay', async function () {
        const [a, b, c] = await addFaces(store, L, 1, 3);
        const { group: g1 } = await store.createGroup(L, gname('g1'));
        const { group: g2 } = await store.createGroup(L, gname('g2'));
        for (let i = 0; i < 40; i++) {
          await store.bind(L, gname('g1'), a!);
          await store.unbind(L, gname('g1'), a!);
        }
        await store.bind(L, gname('g1'), b!);
        await store.bind(L, gname('g1'), c!);
        for (let i = 0; i < 10; i++) await store.bind(L, gname('g2'), a!).then(() => store.unbind(L, gname('g2'), a!));
        await store.deleteGroup(L, gname('g2'));
        const before = await store.getGroupById(g1.groupId);
        const K = 5;
        const result = await store.compact({ keepChangesPerGroup: K, maxAgeMs: 0 }, Date.now() + 1000);
        expect(result.removedEntries).to.be.greaterThan(70);
        expect(result.groupsCompacted).to.equal(2);
        const kept = await store.readChanges(g1.groupId, { afterVersion: 0, limit: 1000 });
        expect(kept.length).to.be.at.most(K + before!.faceCount);
        const newest = kept.slice(-K).map((c) => c.version);
        expect(newest).to.deep.equal([before!.version - 4, before!.version - 3, before!.version - 2, before!.version - 1, before!.version]);
        expect(await store.readChanges(g2.groupId, { afterVersion: 0, limit: 1000 }), 'old deleted group: log dropped').to.deep.equal([]);
        // The newest K versions stay answerable.
        const delta = await store.deltaSince(g1.groupId, before!.version - K);
        expect(delta).to.not.equal(null);
        expect(delta!.upserted).to.include.members([b!, c!]);
        // Compaction changed no version and no binding; the store keeps working.
        expect((await store.getGroupById(g1.groupId))!.version).to.equal(before!.version);
        expect((await store.bind(L, gname('g1'), a!))!.group.version).to.equal(before!.version + 1);
        // A second pass over a compacted log has little or nothing left to do.
        const again = await store.compact({ keepChangesPerGroup: K, maxAgeMs: 0 }, Date.now() + 1000);
        expect(again.removedEntries).to.be.at.most(2);
      });

      it('keeps young changes whole, whatever K says', async function () {
        const [a] = await addFaces(store, L, 1, 1);
        const { group } = await store.createGroup(L, gname('g'));
        for (let i = 0; i < 10; i++) {
          await store.bind(L, gname('g'), a!);
          await store.unbind(L, gname('g'), a!);
        }
        const result = await store.compact({ keepChangesPerGroup: 0, maxAgeMs: 3_600_000 }, Date.now());
        expect(result.removedEntries).to.equal(0);
        expect(await store.readChanges(group.groupId, { afterVersion: 0, limit: 100 })).to.have.length(21);
      });

      it('runs concurrently with writes without losing or reordering anything', async function () {
        this.timeout(30_000);
        const tokens = await addFaces(store, L, 1, 30);
        const told: CommittedChange[] = [];
        store.onCommit((c) => told.push(c));
        const { group } = await store.createGroup(L, gname('g'));
        const rng = prng(2024);
        const policy: CompactionPolicy = { keepChangesPerGroup: 3, maxAgeMs: 0 };
        const calls: Array<Promise<unknown>> = [];
        const compactions: Array<Promise<CompactionResult>> = [];
        for (let i = 0; i < 400; i++) {
          const t = rng.pick(tokens);
          calls.push(
            rng.next() < 0.55 ? store.bind(L, gname('g'), t) : store.unbind(L, gname('g'), t).catch((e) => (isFaceError(e) ? null : Promise.reject(e))),
          );
          if (i % 50 === 25) {
            // Let some writes commit so each compaction meets a different log, with writes still queued.
            await new Promise((resolve) => setTimeout(resolve, 3));
            compactions.push(store.compact(policy, Date.now() + 3_600_000));
          }
        }
        await Promise.all(calls);
        const removed = (await Promise.all(compactions)).reduce((sum, r) => sum + r.removedEntries, 0);
        expect(removed, 'compaction ran against a growing log').to.be.greaterThan(0);
        // Rebuild every version's state from what the listeners were told.
        const states = new Map<number, Set<string>>([[1, new Set()]]);
        const bound = new Set<string>();
        for (const c of told) {
          if (c.change.op === 'bind') bound.add(c.change.faceToken!);
          if (c.change.op === 'unbind') bound.delete(c.change.faceToken!);
          states.set(c.change.version, new Set(bound));
        }
        const current = (await store.getGroupById(group.groupId))!;
        expect(told.map((c) => c.change.version)).to.deep.equal(Array.from({ length: current.version }, (_, i) => i + 1));
        const snapshot = await store.snapshotGroup(group.groupId);
        expect(snapshot!.bindings.map((b) => b.faceToken)).to.deep.equal([...bound].sort());
        const byVersion = new Map(told.map((c) => [c.change.version, c.change]));
        for (const entry of await store.readChanges(group.groupId, { afterVersion: 0, limit: 10_000 })) {
          expect(entry).to.deep.equal(byVersion.get(entry.version));
        }
        for (let from = 1; from <= current.version; from++) {
          const delta = await store.deltaSince(group.groupId, from);
          if (delta === null) {
            expect(from, 'the newest K versions stay answerable').to.be.lessThan(current.version - policy.keepChangesPerGroup);
            continue;
          }
          const applied = new Set(states.get(from));
          for (const t of delta.removed) {
            expect(bound.has(t)).to.equal(false);
            applied.delete(t);
          }
          for (const t of delta.upserted) {
            expect(bound.has(t)).to.equal(true);
            applied.add(t);
          }
          expect([...applied].sort(), `from v${from}`).to.deep.equal([...bound].sort());
        }
      });

      it('keeps deltaSince correct for every answerable version across compactions and further writes', async function () {
        this.timeout(40_000);
        for (const seed of [6, 7, 8]) {
          const rng = prng(seed);
          const model = new StoreModel();
          const library = lib(`lib-${seed}`);
          const opts: RandomOpsOptions = { library, names: ['a', 'b', 'c'], facePool: [], nextFace: { n: 1000 * seed }, prefix: `C${seed}` };
          opts.facePool.push(...(await addFaces(store, library, opts.nextFace.n, 8, opts.prefix)));
          opts.nextFace.n += 8;
          const compactions: Array<{ policy: CompactionPolicy; now: number; versions: Map<number, number> }> = [];
          for (let round = 0; round < 4; round++) {
            await randomOps(store, model, rng, 120, opts);
            // Pick the age cut at a random logged change so part of the log is old.
            const ats = [...model.groups.values()].flatMap((g) => g.log.map((c) => c.at));
            const cut = rng.pick(ats);
            const now = Date.now() + 1000;
            const policy: CompactionPolicy = { keepChangesPerGroup: rng.int(10), maxAgeMs: now - cut };
            const versions = new Map([...model.groups.values()].map((g) => [g.groupId, g.version]));
            compactions.push({ policy, now, versions });
            await store.compact(policy, now);
            await checkAgainstModel(store, model, { completeLog: false });
            // Right after compaction: the newest K entries and all young entries are still there.
            for (const group of model.groups.values()) {
              if (group.deleted) continue;
              const kept = new Set((await store.readChanges(gid(group.groupId), { afterVersion: 0, limit: 1e6 })).map((c) => c.version));
              for (const c of group.log) {
                const young = now - c.at < policy.maxAgeMs;
                const newest = c.version > group.version - policy.keepChangesPerGroup;
                if (young || newest) expect(kept.has(c.version), `group ${group.groupId} v${c.version} kept`).to.equal(true);
              }
            }
            const mustAnswer = (group: ModelGroup, from: number) =>
              compactions.every(({ policy: p, now: n, versions: v }) => {
                const at = group.log.find((c) => c.version === from + 1)?.at;
                const versionThen = v.get(group.groupId) ?? -Infinity;
                return from >= versionThen - p.keepChangesPerGroup || (at !== undefined && n - at < p.maxAgeMs);
              });
            await checkAllDeltas(store, model, { exact: false, mustAnswer });
          }
        }
      });
    });

    describe('onCommit', function () {
      it('tells listeners once per change, after the commit, in commit order; a throwing listener breaks nothing', async function () {
        const tokens = await addFaces(store, L, 1, 12);
        const seenA: CommittedChange[] = [];
        const seenC: CommittedChange[] = [];
        const visible: Array<Promise<boolean>> = [];
        store.onCommit((c) => {
          seenA.push(c);
          visible.push(store.getGroupById(c.change.groupId).then((g) => g !== undefined && g.version >= c.change.version));
        });
        store.onCommit(() => {
          throw new Error('listener failure (expected in this test)');
        });
        const unsubscribe = store.onCommit((c) => seenC.push(c));
        await Promise.all(['g1', 'g2', 'g3'].map((n) => store.createGroup(L, gname(n))));
        const rng = prng(99);
        const calls: Array<Promise<unknown>> = [];
        for (let i = 0; i < 150; i++) {
          const n = gname(rng.pick(['g1', 'g2', 'g3']));
          const t = rng.pick(tokens.slice(0, 10));
          calls.push(rng.next() < 0.6 ? store.bind(L, n, t) : store.unbind(L, n, t).catch((e) => (isFaceError(e) ? null : Promise.reject(e))));
        }
        calls.push(store.deleteFace(tokens[0]!));
        await Promise.all(calls);
        expect(seenA).to.deep.equal(seenC);
        expect(await Promise.all(visible)).to.not.include(false);
        const perGroup = new Map<number, number[]>();
        for (const c of seenA) {
          expect(c.group.version).to.equal(c.change.version);
          expect(c.group.groupId).to.equal(c.change.groupId);
          perGroup.set(c.change.groupId, [...(perGroup.get(c.change.groupId) ?? []), c.change.version]);
        }
        for (const [groupId, versions] of perGroup) {
          const group = await store.getGroupById(gid(groupId));
          expect(versions, `group ${groupId}: every version once, in order`).to.deep.equal(Array.from({ length: group!.version }, (_, i) => i + 1));
          const log = await store.readChanges(gid(groupId), { afterVersion: 0, limit: 1000 });
          const told = seenA.filter((c) => c.change.groupId === groupId).map((c) => c.change);
          expect(told).to.deep.equal(log);
        }
        unsubscribe();
        await store.createGroup(L, gname('g4'));
        expect(seenC.length).to.equal(seenA.length - 1);
      });
    });

    describe('concurrency', function () {
      it('500 concurrent bind/unbind calls on one group: version = 1 + effective changes, gapless ordered log', async function () {
        this.timeout(30_000);
        const tokens = await addFaces(store, L, 1, 40);
        const { group } = await store.createGroup(L, gname('busy'));
        const rng = prng(500);
        const calls = Array.from({ length: 500 }, () => ({ op: rng.next() < 0.55 ? 'bind' : 'unbind', token: rng.pick(tokens) }));
        const results = await Promise.allSettled(
          calls.map((c) => (c.op === 'bind' ? store.bind(L, gname('busy'), c.token) : store.unbind(L, gname('busy'), c.token))),
        );
        const versions: number[] = [];
        for (const r of results) {
          if (r.status === 'rejected') {
            expect(isFaceError(r.reason) && r.reason.code === 'BINDING_NOT_FOUND', String(r.reason)).to.equal(true);
          } else if (r.value !== null) versions.push((r.value as CommittedChange).change.version);
        }
        const record = await store.getGroupById(group.groupId);
        expect(record!.version).to.equal(1 + versions.length);
        expect(versions.sort((x, y) => x - y)).to.deep.equal(Array.from({ length: versions.length }, (_, i) => i + 2));
        const log = await store.readChanges(group.groupId, { afterVersion: 0, limit: 10_000 });
        expect(log.map((c) => c.version)).to.deep.equal(Array.from({ length: record!.version }, (_, i) => i + 1));
        const bound = new Set<string>();
        for (const c of log.slice(1)) {
          if (c.op === 'bind') {
            expect(bound.has(c.faceToken!), `v${c.version} binds a bound face`).to.equal(false);
            bound.add(c.faceToken!);
          } else {
            expect(bound.has(c.faceToken!), `v${c.version} unbinds an unbound face`).to.equal(true);
            bound.delete(c.faceToken!);
          }
        }
        const snapshot = await store.snapshotGroup(group.groupId);
        expect(snapshot!.bindings.map((b) => b.faceToken)).to.deep.equal([...bound].sort());
        expect(snapshot!.group).to.include({ faceCount: bound.size, tokenDigest: digestHex(bound) });
      });
    });

    describe('settings', function () {
      it('sets and clears several settings in one call, leaving others alone', async function () {
        expect(await store.getSettings()).to.deep.equal({});
        await store.putSettings({ a: 1.5, b: 70 });
        await store.putSettings({ b: null, c: -1 });
        expect(await store.getSettings()).to.deep.equal({ a: 1.5, c: -1 });
        let commits = 0;
        const off = store.onCommit(() => commits++);
        await store.putSettings({ a: 2 });
        off();
        expect(commits, 'settings are no group change').to.equal(0);
      });

      it('refuses a non-finite value and changes nothing', async function () {
        await store.putSettings({ a: 1 });
        await expectFaceError(store.putSettings({ a: 3, b: Number.NaN }), 'INTERNAL');
        expect(await store.getSettings()).to.deep.equal({ a: 1 });
      });

      it('keeps settings across close and reopen', async function () {
        if (!opened.reopen) this.skip();
        await store.putSettings({ threshold: 78.5 });
        await store.close();
        store = await opened.reopen!();
        expect(await store.getSettings()).to.deep.equal({ threshold: 78.5 });
      });
    });

    describe('lifecycle', function () {
      it('close() waits for pending writes; later calls are refused', async function () {
        const tokens = await addFaces(store, L, 1, 60);
        await store.createGroup(L, gname('g'));
        let settled = 0;
        const pending = tokens.map((t) => store.bind(L, gname('g'), t).finally(() => settled++));
        await store.close();
        expect(settled).to.equal(tokens.length);
        for (const r of await Promise.allSettled(pending)) expect(r.status).to.equal('fulfilled');
        let refused = false;
        try {
          await store.getGroup(L, gname('g'));
        } catch {
          refused = true;
        }
        expect(refused).to.equal(true);
        if (opened.reopen) {
          store = await opened.reopen();
          expect((await store.getGroup(L, gname('g')))!).to.include({ version: 61, faceCount: 60 });
        }
      });

      it('keeps everything across close and reopen', async function () {
        if (!opened.reopen) this.skip();
        const bytes = new Uint8Array(randomBytes(300_000));
        const face = faceRecord(1, L);
        await store.addImage({ ...imageRecord(1, bytes), imageId: face.imageId }, face);
        const others = await addFaces(store, L, 2, 3);
        await store.createGroup(L, gname('keep'));
        const { group: dropped } = await store.createGroup(L, gname('drop'));
        await store.bind(L, gname('keep'), face.faceToken, { userId: 'alice', userInfo: 'door 3' });
        for (const t of others) await store.bind(L, gname('keep'), t);
        await store.bind(L, gname('drop'), others[0]!);
        await store.deleteGroup(L, gname('drop'));
        await store.deleteFace(others[2]!);
        const keep = await store.snapshotGroup((await store.getGroup(L, gname('keep')))!.groupId);
        const log = await store.readChanges(keep!.group.groupId, { afterVersion: 0, limit: 100 });
        const delta = await store.deltaSince(keep!.group.groupId, 1);
        await store.close();

        store = await opened.reopen!();
        expect(await store.snapshotGroup(keep!.group.groupId)).to.deep.equal(keep);
        expect(await store.readChanges(keep!.group.groupId, { afterVersion: 0, limit: 100 })).to.deep.equal(log);
        expect(await store.deltaSince(keep!.group.groupId, 1)).to.deep.equal(delta);
        expect(Buffer.from((await store.getImage(face.imageId))!.bytes).equals(Buffer.from(bytes))).to.equal(true);
        expect(Array.from((await store.getFace(face.faceToken))!.feature)).to.deep.equal(Array.from(face.feature));
        expect((await store.getFace(others[2]!))!.deletedAt).to.be.a('number');
        expect((await store.getGroupById(dropped.groupId))!.deletedAt).to.be.a('number');
        const recreated = await store.createGroup(L, gname('drop'));
        expect(recreated.group.version).to.equal(4);
        expect(recreated.group.groupId).to.be.greaterThan(dropped.groupId);
        expect((await store.bind(L, gname('keep'), others[1]!)), 'still bound after reopen').to.equal(null);
      });
    });
  });
}

/** Checks deltaSince for every version of every group of the model (and just outside). */
async function checkAllDeltas(
  store: FaceStore,
  model: StoreModel,
  opts: { exact: boolean; mustAnswer: (group: ModelGroup, from: number) => boolean },
): Promise<void> {
  for (const group of model.groups.values()) {
    const id = gid(group.groupId);
    if (group.deleted) {
      expect(await store.deltaSince(id, group.createVersion), `deleted group ${group.groupId}`).to.equal(null);
      continue;
    }
    expect(await store.deltaSince(id, group.version + 1)).to.equal(null);
    expect(await store.deltaSince(id, group.version)).to.deep.equal({ fromVersion: group.version, toVersion: group.version, upserted: [], removed: [] });
    for (let from = group.createVersion - 1; from < group.version; from++) {
      const delta = await store.deltaSince(id, from);
      if (delta === null) {
        expect(from < group.createVersion || !opts.mustAnswer(group, from), `group ${group.groupId} from v${from} must be answerable`).to.equal(true);
        continue;
      }
      checkDelta(model, group, from, delta, opts.exact);
    }
  }
}
