// The approximate (inverted lists) index of large groups, with a tiny size threshold so
// the tests stay fast: read-your-writes like the exact index, persisted under
// the index directory and loaded at restart without a rebuild (only the
// store's changes since the saved version replayed), and a file that is
// damaged, of another feature model or from history the store does not have
// is discarded and the group rebuilt correctly.
import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceLibrary } from '../../../../server/core/face-library.js';
import { DEFAULT_LIBRARY, type GroupName } from '../../../../server/core/ids.js';
import { FaceIndex, SearchService } from '../../../../server/core/search/index.js';
import { ApproxGallery } from '../../../../server/core/search/approx-gallery.js';
import { openLmdbStore } from '../../../../storage/index.js';
import type { FaceRecord, FaceStore } from '../../../../storage/store.js';
import { addSyntheticFaces, randomUnitFeature } from '../../../helpers/synthetic-faces.js';

const L = DEFAULT_LIBRARY;
const G = 'hall' as GroupName;
const MODEL = 'test-model';
const MIN = 30;

describe('FaceIndex: approximate groups', function () {
  this.timeout(60_000);
  let dir: string;
  let store: FaceStore;
  let index: FaceIndex;
  let library: FaceLibrary;
  let search: SearchService;
  let faces: FaceRecord[];

  async function open(options: { storeDir?: string; model?: string; ivf?: { lists: number; probes: number } } = {}): Promise<void> {
    store = await openLmdbStore({ path: options.storeDir ?? join(dir, 'store') });
    index = await FaceIndex.open(store, {
      dimensions: 512,
      approxMinFaces: MIN,
      indexDir: join(dir, 'index'),
      searchModel: options.model ?? MODEL,
      saveIntervalMs: 0,
      ...(options.ivf ? { ivf: options.ivf } : {}),
    });
    library = new FaceLibrary(store, index);
    search = new SearchService(index, store, 512);
  }
  async function shut(): Promise<void> {
    await index.close();
    await store.close();
  }
  /** The best match's token for each face's own feature ('' when none). */
  async function top1(of: readonly FaceRecord[]): Promise<string[]> {
    const out: string[] = [];
    for (const face of of) {
      const [hits] = await search.search({ library: L, groups: [G], features: [face.feature], topN: 3 });
      out.push(hits![0]?.faceToken ?? '');
    }
    return out;
  }
  const listFiles = async () => (await readdir(join(dir, 'index'))).filter((n) => n.endsWith('.ivf'));

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'approx-index-test-'));
    await open();
    faces = await addSyntheticFaces(store, MIN + 20, MODEL);
    await library.createGroup(L, G);
    for (const face of faces.slice(0, MIN + 10)) await library.bind(L, G, face.faceToken, { userId: `u${face.faceToken.slice(-4)}` });
  });
  afterEach(async function () {
    await shut();
    await rm(dir, { recursive: true, force: true });
  });

  it('switches a group that reaches the size, finds a bind at once and never an unbound or deleted face', async function () {
    expect(index.stats().approxGroups).to.equal(1);
    const bound = faces.slice(0, MIN + 10);
    // Right after the binds, before or while the lists fill.
    expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));
    await index.settled();
    expect(index.stats().staged).to.equal(0);
    expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));

    const late = faces[MIN + 15]!;
    await library.bind(L, G, late.faceToken);
    expect(await top1([late])).to.deep.equal([late.faceToken]);

    const gone = bound[3]!;
    const deleted = bound[4]!;
    await library.unbind(L, G, gone.faceToken);
    await library.deleteFace(deleted.faceToken);
    for (const face of [gone, deleted]) {
      const [hits] = await search.search({ library: L, groups: [G], features: [face.feature], topN: 50 });
      expect(hits!.map((h) => h.faceToken)).to.not.include(face.faceToken);
    }
    await index.settled();
    for (const face of [gone, deleted]) {
      const [hits] = await search.search({ library: L, groups: [G], features: [face.feature], topN: 50 });
      expect(hits!.map((h) => h.faceToken)).to.not.include(face.faceToken);
    }
    // The user table follows the lists too.
    const [mine] = await search.search({ library: L, groups: [G], features: [bound[0]!.feature], userId: `u${bound[0]!.faceToken.slice(-4)}` });
    expect(mine![0]!.faceToken).to.equal(bound[0]!.faceToken);
  });

  it('restarts from the saved file without a rebuild, replaying only the changes made while it was down', async function () {
    await index.settled();
    const bound = faces.slice(0, MIN + 10);
    const before = await top1(bound);
    await shut();
    expect(await listFiles()).to.have.length(1);

    // Changes the index never saw: the file is older than the store now.
    store = await openLmdbStore({ path: join(dir, 'store') });
    const late = faces[MIN + 12]!;
    await store.bind(L, G, late.faceToken, { userId: 'late' });
    await store.unbind(L, G, bound[0]!.faceToken);
    await store.close();

    await open();
    expect(index.stats()).to.include({ loadedFromFile: 1, discardedFiles: 0, approxGroups: 1, bindings: MIN + 10 });
    const after = await top1(bound.slice(1));
    expect(after).to.deep.equal(before.slice(1));
    const [lateHits] = await search.search({ library: L, groups: [G], features: [late.feature] });
    expect(lateHits![0]).to.include({ faceToken: late.faceToken, userId: 'late' });
    const [goneHits] = await search.search({ library: L, groups: [G], features: [bound[0]!.feature], topN: 50 });
    expect(goneHits!.map((h) => h.faceToken)).to.not.include(bound[0]!.faceToken);

    // Saved again with the replayed changes; the next start loads that.
    await index.settled();
    await shut();
    await open();
    expect(index.stats()).to.include({ loadedFromFile: 1, discardedFiles: 0, bindings: MIN + 10 });
    expect(await top1([late])).to.deep.equal([late.faceToken]);
  });

  for (const damage of ['lists', 'table'] as const) {
    it(`discards a damaged ${damage} file and rebuilds the group correctly`, async function () {
      await index.settled();
      await shut();
      const names = await readdir(join(dir, 'index'));
      const name = names.find((n) => (damage === 'lists' ? n.endsWith('.ivf') : n.endsWith('.json')))!;
      const bytes = await readFile(join(dir, 'index', name));
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0x55;
      await writeFile(join(dir, 'index', name), bytes);

      await open();
      expect(index.stats()).to.include({ loadedFromFile: 0, discardedFiles: 1, approxGroups: 1 });
      const bound = faces.slice(0, MIN + 10);
      expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));
      await index.settled();
      expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));
      await shut();
      await open();
      expect(index.stats()).to.include({ loadedFromFile: 1, discardedFiles: 0 });
    });
  }

  it('discards a file made from another feature model', async function () {
    await index.settled();
    await shut();
    await open({ model: 'other-model' });
    expect(index.stats()).to.include({ loadedFromFile: 0, discardedFiles: 1 });
  });

  it('discards a file from history the store does not have (restored from an older backup)', async function () {
    await index.settled();
    const backup = join(dir, 'backup');
    await store.backup(backup);
    // After the backup: history the backup lacks, and a file that reflects it.
    const late = faces[MIN + 12]!;
    await library.bind(L, G, late.faceToken);
    await index.settled();
    await shut();

    store = await openLmdbStore({ path: backup });
    await store.beginRestoredLineage(Math.floor(Date.now() / 1000) * 2 ** 20);
    await store.close();
    await open({ storeDir: backup });
    expect(index.stats()).to.include({ loadedFromFile: 0, discardedFiles: 1, bindings: MIN + 10 });
    const [hits] = await search.search({ library: L, groups: [G], features: [late.feature], topN: 50 });
    expect(hits!.map((h) => h.faceToken)).to.not.include(late.faceToken);
  });

  it('takes a new feature of a face (model upgrade) in place of its vector in its list', async function () {
    await index.settled();
    const face = faces[0]!;
    const fresh = randomUnitFeature();
    expect(await store.replaceFeature(face.faceToken, fresh, MODEL)).to.equal(true);
    await index.refreshFeatures([face.faceToken]);
    const [now] = await search.search({ library: L, groups: [G], features: [fresh] });
    expect(now![0]!.faceToken).to.equal(face.faceToken);
    expect(now![0]!.cosine).to.be.closeTo(1, 1e-5);
    await index.settled();
    const [old] = await search.search({ library: L, groups: [G], features: [face.feature], topN: 50 });
    // Its old vector is gone from the lists: no match near 1 any more.
    expect(old!.every((hit) => hit.cosine < 0.5)).to.equal(true);
  });

  it('neither loads nor writes index files while a model upgrade runs', async function () {
    await index.settled();
    await shut();
    store = await openLmdbStore({ path: join(dir, 'store') });
    await store.beginFeatureUpgrade('next-model', MODEL);
    await store.close();
    await open();
    expect(index.stats()).to.include({ loadedFromFile: 0, discardedFiles: 0, approxGroups: 1, saves: 0 });
    await library.bind(L, G, faces[MIN + 12]!.faceToken);
    await index.settled();
    expect(index.stats().saves).to.equal(0);
  });

  it('discards an index file of the HNSW format (1) and deletes its graph, rebuilding the group', async function () {
    await index.settled();
    await shut();
    const json = (await readdir(join(dir, 'index'))).find((n) => n.endsWith('.json'))!;
    await writeFile(join(dir, 'index', json), 'facepass-index 1 0000\n{}');
    await writeFile(join(dir, 'index', 'group-1.0a0b0c0d0e0f.usearch'), 'old graph');
    await open();
    expect(index.stats()).to.include({ loadedFromFile: 0, discardedFiles: 1, approxGroups: 1, bindings: MIN + 10 });
    expect((await readdir(join(dir, 'index'))).filter((n) => n.endsWith('.usearch'))).to.deep.equal([]);
    const bound = faces.slice(0, MIN + 10);
    expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));
  });

  it('with several lists and one scanned: finds every face by its feature, before and after a restart, never an unbound one', async function () {
    await shut();
    const ivf = { lists: 4, probes: 1 };
    await open({ ivf });
    const more = await addSyntheticFaces(store, 150, MODEL);
    for (const face of more) await library.bind(L, G, face.faceToken);
    await index.settled();
    const bound = [...faces.slice(0, MIN + 10), ...more];
    expect((index.group(L, G)!.gallery as ApproxGallery).listCount).to.equal(4);
    // A face's own feature is nearest to the centroid of the list it was put in.
    expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));
    await shut();
    await open({ ivf });
    expect(index.stats()).to.include({ loadedFromFile: 1, approxGroups: 1, bindings: bound.length, staged: 0 });
    expect(await top1(bound)).to.deep.equal(bound.map((f) => f.faceToken));
    await library.unbind(L, G, more[7]!.faceToken);
    const [hits] = await search.search({ library: L, groups: [G], features: [more[7]!.feature], topN: 50 });
    expect(hits!.map((h) => h.faceToken)).to.not.include(more[7]!.faceToken);
  });

  it('keeps small groups exact and deletes the files of a deleted group', async function () {
    await library.createGroup(L, 'small' as GroupName);
    await library.bind(L, 'small' as GroupName, faces[0]!.faceToken);
    expect(index.stats().approxGroups).to.equal(1);
    await index.settled();
    expect(await listFiles()).to.have.length(1);
    await library.deleteGroup(L, G);
    await index.settled();
    expect(await listFiles()).to.have.length(0);
    expect((await readdir(join(dir, 'index'))).filter((n) => n.endsWith('.json'))).to.have.length(0);
  });
});
