// npm run bench:search [-- --sizes 10000,100000,1000000 --approx-sizes 10000,100000 --lists 1024 --probes 16,32,64,128
//                          --queries 300 --threads 1 --startup-faces 100000 --skip-startup --skip-http]
//
// 1. Synthetic faces shaped like the test photos' features (tools/face-shaped.ts):
//    the same-person and different-person cosines of the people photos are
//    measured in this run and the synthetic model is fitted to them (median
//    and spread of both); both distributions are printed side by side.
// 2. Per gallery size: the exact int8 index the server uses (build, memory,
//    1:N p50/p99 of the native candidate search), and the approximate index
//    (the server's ApproxGallery: inverted lists over k-means centroids of the
//    same int8 codes) for the --approx-sizes: trained and filled in slices on
//    one thread as the server does it, saved and loaded through the server's
//    index files (IndexFiles: sha256-checked, temp + rename), file size, and
//    per number of lists scanned (probes) p50/p99 and recall. Queries are of two
//    kinds: another sample of an enrolled identity (recall@1: the approximate
//    index's best match, re-ranked with float32, is exact's; and how often
//    each finds the true identity), and a sample of an identity not enrolled
//    (agreement: both find no match at the recognize threshold, or the same one).
// 3. Start-up from a store of --startup-faces bound faces: exact; approximate
//    built in the background then saved; approximate loaded from its file
//    (no rebuild); the whole server started on that data dir.
// 4. HTTP compare and recognize per request against the engine's own time
//    for the same photos (decode, detect, embed), measured in the same run.
//
// Numbers from a shared, loaded machine: print `uptime` around the run.
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOnnxEngine, cosineSimilarity } from '../models/index.js';
import type { DecodeLimits, FaceEngine } from '../models/engine.js';
import { ApproxGallery, DEFAULT_IVF } from '../server/core/search/approx-gallery.js';
import { ExactGallery, type Candidate } from '../server/core/search/exact-gallery.js';
import { FaceIndex, FIRST_SLICE_ROWS, nextSliceRows } from '../server/core/search/face-index.js';
import { IndexFiles } from '../server/core/search/index-files.js';
import { quantize, SCALE } from '../server/core/search/quantize.js';
import { cosineOfScore } from '../server/core/search/score.js';
import { DEFAULT_THRESHOLDS } from '../server/core/thresholds.js';
import { FaceServer } from '../server/app.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupId, type GroupName } from '../server/core/ids.js';
import { newImageId } from '../server/core/tokens.js';
import { openLmdbStore } from '../storage/index.js';
import { PEOPLE, readPersonPhoto, readScene } from '../test/helpers/paths.js';
import { ENROLLABLE, enrollablePhoto } from '../test/helpers/photos.js';
import { syntheticFace } from '../test/helpers/synthetic-faces.js';
import { benchServerConfig, col, int, machineInfo, machineLines, median, percentile, positive } from './bench-common.js';
import { cosineStats, DIM, FaceShapeModel, fitFaceShape, shapeCosines, type CosineStats } from './face-shaped.js';

const LIMITS: DecodeLimits = { maxBytes: 16 << 20, maxPixels: 40_000_000, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };
const list = (name: string, raw: string) => (raw === '' ? [] : raw.split(',').map((s) => positive(name, s)));

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    'approx-sizes': { type: 'string', default: '10000,100000' },
    lists: { type: 'string', default: String(DEFAULT_IVF.lists) },
    probes: { type: 'string', default: '16,32,64,128' },
    queries: { type: 'string', default: '300' },
    threads: { type: 'string', default: '1' },
    'startup-faces': { type: 'string', default: '100000' },
    'approx-min-faces': { type: 'string', default: '100000' },
    'skip-startup': { type: 'boolean', default: false },
    'skip-http': { type: 'boolean', default: false },
  },
});
const sizes = list('sizes', values.sizes);
const approxSizes = new Set(list('approx-sizes', values['approx-sizes']));
const listCounts = list('lists', values.lists);
const probeCounts = list('probes', values.probes);
const queryCount = positive('queries', values.queries);
const threads = positive('threads', values.threads);
const startupFaces = positive('startup-faces', values['startup-faces']);
const approxMinFaces = positive('approx-min-faces', values['approx-min-faces']);
const RECOGNIZE_COSINE = cosineOfScore(DEFAULT_THRESHOLDS.recognize);
const MODEL = 'bench-model';

const ms = (start: number) => performance.now() - start;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const s2 = (msValue: number) => (msValue / 1000).toFixed(2);
const fmt = (c: CosineStats) => `mean ${c.mean.toFixed(3)} sd ${c.sd.toFixed(3)} median ${c.median.toFixed(3)} p99 ${c.p99.toFixed(3)} min ${c.min.toFixed(3)} max ${c.max.toFixed(3)} (${c.n} pairs)`;
const tokenOf = (row: number) => `f${String(row).padStart(23, '0')}` as FaceToken;
const rowOf = (token: FaceToken) => Number(token.slice(1));

async function photoCosines(engine: FaceEngine): Promise<{ same: number[]; different: number[] }> {
  const features: Array<{ person: string; f: Float32Array }> = [];
  for (const person of PEOPLE) {
    for (let n = 1; n <= 5; n++) {
      const image = await engine.decode(readPersonPhoto(person, n), LIMITS);
      const [face] = await engine.detect(image);
      if (face) features.push({ person, f: await engine.embed(image, face) });
    }
  }
  const same: number[] = [];
  const different: number[] = [];
  for (let i = 0; i < features.length; i++) {
    for (let j = i + 1; j < features.length; j++) {
      (features[i]!.person === features[j]!.person ? same : different).push(cosineSimilarity(features[i]!.f, features[j]!.f));
    }
  }
  return { same, different };
}

/** The float32 re-rank of candidates, as SearchService does it: the best row and its cosine. */
function rerank(candidates: Candidate[], query: Float32Array, gallery: Float32Array): { row: number; cosine: number } {
  let row = -1;
  let cosine = -Infinity;
  for (const c of candidates) {
    const r = rowOf(c.faceToken);
    let d = 0;
    const base = r * DIM;
    for (let i = 0; i < DIM; i++) d += query[i]! * gallery[base + i]!;
    if (d > cosine) [row, cosine] = [r, d];
  }
  return { row, cosine };
}

/** A match at the recognize threshold: its row; none: -1. */
const accepted = (best: { row: number; cosine: number }) => (best.cosine >= RECOGNIZE_COSINE ? best.row : -1);

interface Query {
  id: number;
  feature: Float32Array;
  code: Int8Array;
}

interface Outcome {
  times: number[];
  best: Array<{ row: number; cosine: number }>;
}

function run(gallery: { candidates(q: Int8Array, k: number): Candidate[] }, queries: readonly Query[], features: Float32Array): Outcome {
  const times: number[] = [];
  const best: Outcome['best'] = [];
  for (const q of queries) {
    const start = performance.now();
    const candidates = gallery.candidates(q.code, 17);
    times.push(ms(start));
    best.push(rerank(candidates, q.feature, features));
  }
  return { times, best };
}

const dataDir = mkdtempSync(join(tmpdir(), 'bench-search-'));
const engine = await createOnnxEngine({ intraOpThreads: 2 });
try {
  for (const line of machineLines(machineInfo(dataDir))) console.log(line);
  console.log(`  search threads: ${threads}; queries per size: ${queryCount} enrolled + ${queryCount} unknown; approximate build: one thread, as the server\n`);

  // 1. Face-shaped synthetic vectors, fitted to the photos.
  const photos = await photoCosines(engine);
  const photoStats = { same: cosineStats(photos.same), different: cosineStats(photos.different) };
  let start = performance.now();
  const shape = fitFaceShape(photoStats);
  const fitMs = ms(start);
  const model = new FaceShapeModel(shape);
  const check = shapeCosines(model, 3000, 2_000_000_000);
  console.log('Synthetic faces (fitted to the people photos in this run)');
  console.log(`  photos, same person:        ${fmt(photoStats.same)}`);
  console.log(`  synthetic, same identity:   ${fmt(cosineStats(check.same))}`);
  console.log(`  photos, different people:   ${fmt(photoStats.different)}`);
  console.log(`  synthetic, different ids:   ${fmt(cosineStats(check.different))}`);
  console.log(`  (isotropic random 512-d unit vectors would meet at sd ${(1 / Math.sqrt(DIM)).toFixed(3)})`);
  console.log(`  model: spectrum exponent ${shape.alpha.toFixed(3)}, common direction ${shape.w.toFixed(3)}, noise ${shape.sigma.toFixed(3)} x exp(${shape.tau.toFixed(3)} z); fitted in ${s2(fitMs)} s`);
  console.log(`  recognize threshold ${DEFAULT_THRESHOLDS.recognize} = cosine ${RECOGNIZE_COSINE.toFixed(3)}\n`);

  // 2. Exact and approximate per gallery size.
  console.log('1:N search per gallery size: one sample per identity in the gallery; "enrolled" queries are another sample');
  console.log('of a gallery identity, "unknown" ones a sample of an identity not in the gallery. Candidate search only');
  console.log('(17 candidates, as SearchService asks for topN 1), then the float32 re-rank of those candidates.\n');
  const header = `${'faces'.padStart(9)} ${'index'.padEnd(16)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'recall@1'.padStart(8)} ${'true@1'.padStart(7)} ${'unknown'.padStart(8)}`;
  for (const size of sizes) {
    start = performance.now();
    const features = new Float32Array(size * DIM);
    const codes = new Int8Array(size * DIM);
    for (let row = 0; row < size; row++) {
      const f = model.sample(row, 0, features.subarray(row * DIM, (row + 1) * DIM));
      codes.set(quantize(f), row * DIM);
    }
    const made = ms(start);
    const query = (id: number): Query => {
      const feature = model.sample(id, 1);
      return { id, feature, code: quantize(feature) };
    };
    const enrolled = Array.from({ length: queryCount }, (_, i) => query(Math.floor((i * 2654435761) % size)));
    const unknown = Array.from({ length: queryCount }, (_, i) => query(size + i));
    const buildExact = () => {
      const g = new ExactGallery(DIM, threads);
      for (let row = 0; row < size; row++) g.upsert(tokenOf(row), codes.subarray(row * DIM, (row + 1) * DIM));
      return g;
    };

    const before = process.memoryUsage();
    start = performance.now();
    const exact = buildExact();
    const exactBuild = ms(start);
    const after = process.memoryUsage();
    const exactEnrolled = run(exact, enrolled, features);
    const exactUnknown = run(exact, unknown, features);
    const exactTrue = exactEnrolled.best.filter((b, i) => b.row === enrolled[i]!.id).length;
    const exactFalseAccepts = exactUnknown.best.filter((b) => accepted(b) !== -1).length;
    const measured = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
    console.log(`${int(size)} faces (vectors made in ${s2(made)} s)`);
    console.log(`  exact: built in ${s2(exactBuild)} s, ${mb(exact.bytes)} MB counted, ${int(measured / size)} B/face measured (heap + buffers);` +
      ` true identity first for ${exactTrue}/${queryCount} enrolled queries; unknown queries matched at the recognize threshold: ${exactFalseAccepts}/${queryCount}`);
    console.log(`  ${header}`);
    const all = [...exactEnrolled.times, ...exactUnknown.times];
    console.log(`  ${int(size).padStart(9)} ${'exact'.padEnd(16)} ${col(median(all), 7)} ${col(percentile(all, 99), 7)} ${col(1, 8, 3)} ${col(exactTrue / queryCount, 7, 3)} ${col(1, 8, 3)}`);

    if (approxSizes.has(size)) {
      for (const lists of listCounts) {
        const staging = buildExact();
        const rssBefore = process.memoryUsage().rss;
        start = performance.now();
        const approx = ApproxGallery.fromExact(staging, { lists, probes: probeCounts[0]! }, threads);
        let slices = 0;
        let longest = 0;
        // As FaceIndex does it: slices of about 20 ms on one thread.
        let rows = FIRST_SLICE_ROWS;
        while (approx.staged > 0) {
          const t = performance.now();
          const done = approx.indexStaged(rows, 1);
          const took = ms(t);
          longest = Math.max(longest, took);
          rows = nextSliceRows(rows, done, took);
          slices++;
        }
        const build = ms(start);
        const rssAfter = process.memoryUsage().rss;
        const files = new IndexFiles(join(dataDir, `index-${size}-${lists}`));
        await files.open();
        const saved = await files.save(1 as GroupId, approx, { version: 1, model: MODEL, scale: SCALE });
        const out: string[] = [];
        let firstLoad = 0;
        for (const probes of probeCounts) {
          start = performance.now();
          const loaded = await files.load(1 as GroupId, { model: MODEL, dimensions: DIM, scale: SCALE, params: { lists, probes } }, threads);
          if (!loaded.ok) throw new Error(`index file not loaded: ${loaded.reason}`);
          if (firstLoad === 0) firstLoad = ms(start);
          const gallery = loaded.gallery;
          const e = run(gallery, enrolled, features);
          const u = run(gallery, unknown, features);
          const recall = e.best.filter((b, i) => b.row === exactEnrolled.best[i]!.row).length / queryCount;
          const trueId = e.best.filter((b, i) => b.row === enrolled[i]!.id).length / queryCount;
          const agree = u.best.filter((b, i) => accepted(b) === accepted(exactUnknown.best[i]!)).length / queryCount;
          const times = [...e.times, ...u.times];
          out.push(`  ${int(size).padStart(9)} ${`ivf ${gallery.listCount}/${probes}`.padEnd(16)} ${col(median(times), 7)} ${col(percentile(times, 99), 7)} ${col(recall, 8, 3)} ${col(trueId, 7, 3)} ${col(agree, 8, 3)}`);
        }
        for (const row of out) console.log(row);
        console.log(`    ${approx.listCount} lists (ivf lists/probes): trained and filled in ${s2(build)} s on one thread in ${int(slices)} slices (longest ${longest.toFixed(1)} ms);` +
          ` file ${mb(saved.bytes)} MB = ${int(saved.bytes / size)} B/face; save ${s2(saved.totalMs)} s (event loop held ${s2(saved.blockedMs)} s: the snapshot; the writes are asynchronous);` +
          ` load ${s2(firstLoad)} s (sha256 check, lists read, table); RSS +${mb(rssAfter - rssBefore)} MB during the build, ${int(approx.bytes / size)} B/face counted`);
        rmSync(files.dir, { recursive: true, force: true });
      }
    }
    console.log('');
  }
  console.log('  ivf L/P: L lists, the P nearest scanned per search');
  console.log('  recall@1: enrolled queries whose best match (after the float32 re-rank) is exact\'s best match');
  console.log('  true@1: enrolled queries whose best match is their own identity');
  console.log(`  unknown: queries of identities not in the gallery on which the index agrees with exact about a match at the recognize threshold (score ${DEFAULT_THRESHOLDS.recognize})\n`);

  // 3. Start-up from a store.
  if (!values['skip-startup']) {
    const storeDir = join(dataDir, 'startup-store');
    const store = await openLmdbStore({ path: storeDir });
    const group = 'startup' as GroupName;
    await store.createGroup(DEFAULT_LIBRARY, group);
    start = performance.now();
    const BATCH = 2000;
    for (let from = 0; from < startupFaces; from += BATCH) {
      const faces = Array.from({ length: Math.min(BATCH, startupFaces - from) }, (_, i) => syntheticFace(engine.searchModel, newImageId(), model.sample(from + i, 0)));
      // Concurrent writes share one LMDB commit, so filling the store takes seconds, not an fsync per face.
      await Promise.all(faces.map((face) => store.addImage({ imageId: face.imageId, mime: 'image/png', bytes: new Uint8Array(8), width: 1, height: 1, createdAt: 0 }, face)));
      await Promise.all(faces.map((face) => store.bind(DEFAULT_LIBRARY, group, face.faceToken)));
    }
    const fill = ms(start);
    await store.close();
    const reopened = await openLmdbStore({ path: storeDir });
    console.log(`Start-up with ${int(startupFaces)} bound faces in one group (store filled in ${(fill / 1000).toFixed(1)} s)`);

    let rssBefore = process.memoryUsage().rss;
    start = performance.now();
    let index = await FaceIndex.open(reopened, { dimensions: DIM });
    const exactOpen = ms(start);
    let stats = index.stats();
    let rssAfter = process.memoryUsage().rss;
    await index.close();
    console.log(`  exact index built from the store: ${s2(exactOpen)} s; ${mb(stats.bytes)} MB counted (${int(stats.bytes / stats.bindings)} B/face), RSS +${mb(rssAfter - rssBefore)} MB`);

    const indexDir = join(dataDir, 'startup-index');
    const approxOptions = { dimensions: DIM, approxMinFaces, indexDir, searchModel: engine.searchModel };
    start = performance.now();
    index = await FaceIndex.open(reopened, approxOptions);
    const firstOpen = ms(start);
    start = performance.now();
    await index.settled();
    const background = ms(start);
    stats = index.stats();
    await index.close();
    console.log(`  approximate, first start (no file): ready in ${s2(firstOpen)} s (searches exactly until the lists are filled), lists trained and filled in the background and saved in ${s2(background)} s more (${stats.saves} save)`);

    rssBefore = process.memoryUsage().rss;
    start = performance.now();
    index = await FaceIndex.open(reopened, approxOptions);
    const loadedOpen = ms(start);
    stats = index.stats();
    rssAfter = process.memoryUsage().rss;
    await index.close();
    await reopened.close();
    if (stats.loadedFromFile !== 1) throw new Error('the restart did not load the index file');
    console.log(`  approximate, restart (file loaded, no rebuild): ready in ${s2(loadedOpen)} s; ${mb(stats.bytes)} MB counted (${int(stats.bytes / stats.bindings)} B/face), RSS +${mb(rssAfter - rssBefore)} MB`);

    const serverDir = join(dataDir, 'server-startup');
    rmSync(serverDir, { recursive: true, force: true });
    mkdirSync(serverDir, { recursive: true });
    // The server keeps its store under <dataDir>/store and the index files under <dataDir>/index.
    renameSync(storeDir, join(serverDir, 'store'));
    renameSync(indexDir, join(serverDir, 'index'));
    start = performance.now();
    const server = await FaceServer.start({ config: benchServerConfig(serverDir, { searchApproxMinFaces: approxMinFaces }), engine });
    const serverStart = ms(start);
    const rss = process.memoryUsage().rss;
    const serverStats = server.faceIndex.stats();
    await server.close();
    console.log(`  whole server start (engine already loaded) to ready with them: ${s2(serverStart)} s (index loaded from its file: ${serverStats.loadedFromFile === 1 ? 'yes' : 'NO'}); process RSS then ${mb(rss)} MB\n`);
  }

  // 4. HTTP compare and recognize against the engine's own time.
  if (!values['skip-http']) {
    const server = await FaceServer.start({ config: benchServerConfig(join(dataDir, 'http')), engine });
    const key = server.keys.admin;
    const post = async (path: string, form: FormData) => {
      const response = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
      const body = (await response.json()) as { code: number };
      if (body.code !== 0) throw new Error(`${path}: ${JSON.stringify(body)}`);
    };
    const json = (path: string, body: unknown) =>
      fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ data: { face_token?: string } }>);
    await json('/api/group/v1/create', { group_name: 'bench' });
    for (const [person, n] of ENROLLABLE) {
      const form = new FormData();
      form.append('image', new Blob([await enrollablePhoto(person, n)], { type: 'image/png' }), 'face.png');
      const added = (await (await fetch(server.url + '/api/face/v1/add', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form })).json()) as { data: { face_token: string } };
      await json('/api/group/v1/bind', { group_name: 'bench', face_token: added.data.face_token });
    }
    const a = readPersonPhoto('raj', 1);
    const b = readPersonPhoto('raj', 2);
    const scene = readScene('bbt3.jpg');
    const rounds = 15;
    const http = { compare: [] as number[], recognize: [] as number[] };
    const raw = { compare: [] as number[], recognize: [] as number[] };
    const engineTime = async (bytes: Uint8Array, all: boolean) => {
      const image = await engine.decode(bytes, LIMITS);
      const faces = await engine.detect(image);
      for (const face of all ? faces : faces.slice(0, 1)) {
        await engine.quality(image, face);
        await engine.embed(image, face);
      }
    };
    for (let round = 0; round < rounds; round++) {
      let start = performance.now();
      const compare = new FormData();
      compare.append('image_1', new Blob([a]), 'a.png');
      compare.append('image_2', new Blob([b]), 'b.png');
      compare.append('enable_liveness', 'false');
      await post('/api/service/compare/v1', compare);
      http.compare.push(ms(start));
      start = performance.now();
      await engineTime(a, false);
      await engineTime(b, false);
      raw.compare.push(ms(start));

      start = performance.now();
      const recognize = new FormData();
      recognize.append('group_name', 'bench');
      recognize.append('face_data', '{}');
      recognize.append('image_1', new Blob([scene]), 'scene.jpg');
      await post('/api/service/recognize/v1', recognize);
      http.recognize.push(ms(start));
      start = performance.now();
      await engineTime(scene, true);
      raw.recognize.push(ms(start));
    }
    await server.close();
    console.log(`HTTP per request vs the engine's own work on the same photos (median of ${rounds}, alternating)`);
    for (const name of ['compare', 'recognize'] as const) {
      const h = median(http[name]);
      const r = median(raw[name]);
      console.log(`  ${name.padEnd(10)} HTTP ${h.toFixed(1).padStart(7)} ms   engine ${r.toFixed(1).padStart(7)} ms   ratio ${(h / r).toFixed(2)}`);
    }
    console.log('  compare: two 150x150 photos, one face each; recognize: bbt3.jpg (5 faces) against 8 enrolled faces');
  }
} finally {
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
}
