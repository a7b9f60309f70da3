// The core search over a real LMDB store: the index follows every write
// (read-your-writes), survives a restart equal, and the search options
// (several groups, topN, user, minScore, M:N) do what they say.
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceLibrary } from '../../../../server/core/face-library.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../../../server/core/ids.js';
import { isFaceError } from '../../../../server/core/errors.js';
import { FaceIndex, SearchService, scoreOfCosine } from '../../../../server/core/search/index.js';
import { openLmdbStore } from '../../../../storage/index.js';
import type { FaceRecord, FaceStore } from '../../../../storage/store.js';
import { addSyntheticFaces, randomUnitFeature } from '../../../helpers/synthetic-faces.js';

const L = DEFAULT_LIBRARY;
const g = (name: string) => name as GroupName;
const MODEL = 'test-model';

/** A unit vector at cosine about `cos` to `base`. */
function near(base: Float32Array, cos: number): Float32Array {
  const noise = randomUnitFeature();
  let d = 0;
  for (let i = 0; i < base.length; i++) d += noise[i]! * base[i]!;
  const orth = noise.map((v, i) => v - d * base[i]!);
  const n = Math.hypot(...orth);
  const s = Math.sqrt(1 - cos * cos);
  return base.map((v, i) => cos * v + (s * orth[i]!) / n);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect(isFaceError(err) && err.code, String(err)).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('SearchService', function () {
  let dir: string;
  let store: FaceStore;
  let index: FaceIndex;
  let library: FaceLibrary;
  let search: SearchService;
  let faces: FaceRecord[];

  async function open(): Promise<void> {
    store = await openLmdbStore({ path: dir });
    index = await FaceIndex.open(store, { dimensions: 512 });
    library = new FaceLibrary(store, index);
    search = new SearchService(index, store, 512);
  }
  async function shut(): Promise<void> {
    index.close();
    await store.close();
  }

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'search-test-'));
    await open();
    faces = await addSyntheticFaces(store, 40, MODEL);
    await library.createGroup(L, g('lobby'));
    await library.createGroup(L, g('staff'));
  });
  afterEach(async function () {
    await shut();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds a face right after its bind is acknowledged, and never after its unbind', async function () {
    const face = faces[0]!;
    for (let round = 0; round < 20; round++) {
      await library.bind(L, g('lobby'), face.faceToken);
      const [hits] = await search.search({ library: L, groups: [g('lobby')], features: [face.feature] });
      const hit = hits![0];
      expect(hit?.faceToken, `round ${round}`).to.equal(face.faceToken);
      expect(hit!.cosine).to.be.closeTo(1, 1e-5);
      expect(hit!.score).to.be.closeTo(100, 1e-3);
      await library.unbind(L, g('lobby'), face.faceToken);
      const [after] = await search.search({ library: L, groups: [g('lobby')], features: [face.feature] });
      expect(after, `round ${round}`).to.deep.equal([]);
    }
  });

  it('forgets a deleted face and a deleted group', async function () {
    await library.bind(L, g('lobby'), faces[0]!.faceToken);
    await library.bind(L, g('staff'), faces[0]!.faceToken);
    await library.deleteFace(faces[0]!.faceToken);
    const hits = await search.search({ library: L, groups: [g('lobby'), g('staff')], features: [faces[0]!.feature], topN: 5 });
    expect(hits).to.deep.equal([[]]);
    await library.deleteGroup(L, g('staff'));
    await expectCode(search.search({ library: L, groups: [g('lobby'), g('staff')], features: [faces[0]!.feature] }), 'GROUP_NOT_FOUND');
  });

  it('searches several groups at once, naming the group of each match', async function () {
    const [a, b, c] = faces;
    await library.bind(L, g('lobby'), a!.faceToken);
    await library.bind(L, g('staff'), b!.faceToken);
    await library.bind(L, g('staff'), a!.faceToken);
    const [hits] = await search.search({ library: L, groups: [g('lobby'), g('staff')], features: [a!.feature], topN: 3 });
    expect(hits!.slice(0, 2).map((h) => h.groupName).sort()).to.deep.equal(['lobby', 'staff']);
    expect(hits!.slice(0, 2).every((h) => h.faceToken === a!.faceToken)).to.equal(true);
    expect(hits![2]!.faceToken).to.equal(b!.faceToken);
    const [none] = await search.search({ library: L, groups: [g('lobby')], features: [c!.feature], minScore: 60 });
    expect(none).to.deep.equal([]);
  });

  it('ranks topN by exact score, filters by minScore and answers each query face (M:N)', async function () {
    const base = randomUnitFeature();
    const cosines = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3];
    const tokens: FaceToken[] = [];
    for (const cos of cosines) {
      const record = { ...faces[0]!, faceToken: `near${String(cos * 10).padStart(20, '0')}` as FaceToken, feature: near(base, cos) };
      await store.addImage({ imageId: record.imageId, mime: 'image/png', bytes: new Uint8Array(4), width: 1, height: 1, createdAt: 0 }, record);
      await library.bind(L, g('lobby'), record.faceToken, { userId: `user${cos}` });
      tokens.push(record.faceToken);
    }
    for (const face of faces) await library.bind(L, g('lobby'), face.faceToken);
    const other = faces[5]!;
    const [top, mine] = await search.search({ library: L, groups: [g('lobby')], features: [base, other.feature], topN: 4 });
    expect(top!.map((h) => h.faceToken)).to.deep.equal(tokens.slice(0, 4));
    top!.forEach((h, i) => {
      expect(h.cosine).to.be.closeTo(cosines[i]!, 1e-4);
      expect(h.score).to.be.closeTo(scoreOfCosine(cosines[i]!), 1e-3);
      expect(h.userId).to.equal(`user${cosines[i]}`);
    });
    expect(mine![0]!.faceToken).to.equal(other.faceToken);
    const [filtered] = await search.search({ library: L, groups: [g('lobby')], features: [base], topN: 50, minScore: scoreOfCosine(0.65) });
    expect(filtered!.map((h) => h.faceToken)).to.deep.equal(tokens.slice(0, 3));
  });

  it('restricts a search to the faces of one user', async function () {
    const [a, b, c] = faces;
    await library.bind(L, g('lobby'), a!.faceToken, { userId: 'alice', userInfo: 'floor 2' });
    await library.bind(L, g('lobby'), b!.faceToken, { userId: 'alice' });
    await library.bind(L, g('lobby'), c!.faceToken, { userId: 'bob' });
    const [hits] = await search.search({ library: L, groups: [g('lobby')], features: [c!.feature], topN: 5, userId: 'alice' });
    expect(hits!.map((h) => h.faceToken).sort()).to.deep.equal([a!.faceToken, b!.faceToken].sort());
    expect(hits!.find((h) => h.faceToken === a!.faceToken)).to.include({ userId: 'alice', userInfo: 'floor 2' });
    const [nobody] = await search.search({ library: L, groups: [g('lobby')], features: [c!.feature], userId: 'carol' });
    expect(nobody).to.deep.equal([]);
  });

  it('holds the same index after a restart, and follows a storm of concurrent writes', async function () {
    await Promise.all(faces.map((f, i) => library.bind(L, g(i % 2 ? 'lobby' : 'staff'), f.faceToken, { userId: `u${i}` })));
    await Promise.all(faces.slice(0, 10).map((f, i) => library.unbind(L, g(i % 2 ? 'lobby' : 'staff'), f.faceToken)));
    await Promise.all(faces.slice(0, 4).map((f) => library.bind(L, g('lobby'), f.faceToken)));
    const query = () => Promise.all([0, 20].map((from) =>
      search.search({ library: L, groups: [g('lobby'), g('staff')], features: faces.slice(from, from + 20).map((f) => f.feature), topN: 3 }))).then((r) => r.flat());
    const before = await query();
    // What the store says is bound, searched the slow way.
    for (const [q, hits] of before.entries()) {
      const bound = (await store.groupsOfFace(faces[q]!.faceToken)).length > 0;
      expect(hits.length > 0 && hits[0]!.faceToken === faces[q]!.faceToken, `face ${q}`).to.equal(bound);
    }
    const stats = index.stats();
    await shut();
    await open();
    expect(index.stats()).to.deep.equal(stats);
    expect(await query()).to.deep.equal(before);
  });

  it('refuses unknown groups and out-of-bounds requests', async function () {
    const f = [faces[0]!.feature];
    await expectCode(search.search({ library: L, groups: [g('nope')], features: f }), 'GROUP_NOT_FOUND');
    await expectCode(search.search({ library: L, groups: [], features: f }), 'ILLEGAL_ARGUMENT');
    await expectCode(search.search({ library: L, groups: Array.from({ length: 11 }, (_, i) => g(`g${i}`)), features: f }), 'ILLEGAL_ARGUMENT');
    await expectCode(search.search({ library: L, groups: [g('lobby')], features: [] }), 'ILLEGAL_ARGUMENT');
    await expectCode(search.search({ library: L, groups: [g('lobby')], features: [new Float32Array(3)] }), 'ILLEGAL_ARGUMENT');
    for (const topN of [0, 51, 1.5]) await expectCode(search.search({ library: L, groups: [g('lobby')], features: f, topN }), 'ILLEGAL_ARGUMENT');
    for (const minScore of [-1, 101, Number.NaN]) await expectCode(search.search({ library: L, groups: [g('lobby')], features: f, minScore }), 'ILLEGAL_ARGUMENT');
  });
});
