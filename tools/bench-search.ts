// npm run bench:search [-- --sizes 10000,100000,1000000 --queries 300 --threads 1 --skip-http]
//
// 1. Synthetic faces: 512-d unit vectors, one gallery sample per identity
//    and a query sample of a random identity, noise set so that the cosine
//    of two samples of one identity has the median measured in this run on
//    the people photos (the test photos).
// 2. Per gallery size: the exact int8 index the server uses (build, memory,
//    1:N p50/p99 of the native candidate search), and the approximate HNSW
//    index (usearch, i8) for the large sizes: build, save, load and view
//    times (a restart without a rebuild), p50/p99, recall@1 against exact in
//    the same run (both re-ranked with float32).
// 3. Start-up of the search index from a store of 100,000 bound faces.
// 4. HTTP compare and recognize per request against the engine's own time
//    for the same photos (decode, detect, embed), measured in the same run.
//
// Numbers from a shared, loaded machine: read the ratios, not the absolutes.
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { createOnnxEngine, cosineSimilarity } from '../models/index.js';
import type { DecodeLimits, FaceEngine } from '../models/engine.js';
import { ExactGallery } from '../server/core/search/exact-gallery.js';
import { FaceIndex } from '../server/core/search/face-index.js';
import { quantize } from '../server/core/search/quantize.js';
import { FaceServer } from '../server/app.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../server/core/ids.js';
import { newImageId } from '../server/core/tokens.js';
import { openLmdbStore } from '../storage/index.js';
import { PEOPLE, readPersonPhoto, readScene } from '../test/helpers/paths.js';
import { ENROLLABLE, enrollablePhoto } from '../test/helpers/photos.js';
import { syntheticFace } from '../test/helpers/synthetic-faces.js';
import { benchServerConfig, col, int, machineInfo, machineLines, median, percentile, positive } from './bench-common.js';

const DIM = 512;
const LIMITS: DecodeLimits = { maxBytes: 16 << 20, maxPixels: 40_000_000, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    queries: { type: 'string', default: '300' },
    threads: { type: 'string', default: '1' },
    'startup-faces': { type: 'string', default: '100000' },
    'skip-http': { type: 'boolean', default: false },
    // HNSW builds take minutes per 100,000 faces on this loaded 2-core machine.
    'hnsw-sizes': { type: 'string', default: '100000' },
  },
});
const sizes = values.sizes.split(',').map((s) => positive('sizes', s));
const queryCount = positive('queries', values.queries);
const threads = positive('threads', values.threads);
const startupFaces = positive('startup-faces', values['startup-faces']);
const hnswSizes = new Set(values['hnsw-sizes'] === '' ? [] : values['hnsw-sizes'].split(',').map((s) => positive('hnsw-sizes', s)));
const HNSW = { dimensions: DIM, metric: MetricKind.IP, quantization: ScalarKind.I8, connectivity: 16, expansion_add: 64, expansion_search: 256, multi: false };

/** Deterministic per (seed, row) so a vector can be made again instead of kept (1M float32 = 2 GB). */
function gaussianRow(seed: number, out: Float32Array): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next() + 1e-12));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

const normalize = (v: Float32Array) => {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
};

/** Sample `k` of identity `id`: its centre plus noise of norm sigma, normalised. Two samples meet at cosine ~1/(1+sigma²). */
function sample(id: number, k: number, sigma: number): Float32Array {
  const centre = normalize(gaussianRow(id * 7919 + 1, new Float32Array(DIM)));
  const noise = normalize(gaussianRow(id * 7919 + 2 + k * 104729, new Float32Array(DIM)));
  for (let i = 0; i < DIM; i++) centre[i] = centre[i]! + sigma * noise[i]!;
  return normalize(centre);
}

const ms = (start: number) => performance.now() - start;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

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

function exactTop1(gallery: ExactGallery, query: Float32Array, sigma: number, rows: Map<FaceToken, number>): number {
  const candidates = gallery.candidates(quantize(query), 17);
  let best = -1;
  let bestCos = -Infinity;
  for (const c of candidates) {
    const row = rows.get(c.faceToken)!;
    const cos = cosineSimilarity(query, sample(row, 0, sigma));
    if (cos > bestCos) [best, bestCos] = [row, cos];
  }
  return best;
}

const dataDir = mkdtempSync(join(tmpdir(), 'bench-search-'));
const engine = await createOnnxEngine({ intraOpThreads: 2 });
try {
  for (const line of machineLines(machineInfo(dataDir))) console.log(line);
  console.log(`  search threads: ${threads}; queries per size: ${queryCount}\n`);

  const photos = await photoCosines(engine);
  const target = median(photos.same);
  const sigma = Math.sqrt(1 / target - 1);
  const check = Array.from({ length: 200 }, (_, i) => cosineSimilarity(sample(i, 0, sigma), sample(i, 1, sigma)));
  const checkDiff = Array.from({ length: 200 }, (_, i) => cosineSimilarity(sample(i, 0, sigma), sample(i + 1, 1, sigma)));
  console.log('Synthetic faces');
  console.log(`  test photos: same-person cosine median ${target.toFixed(3)} (${photos.same.length} pairs), different-person median ${median(photos.different).toFixed(3)}`);
  console.log(`  synthetic (noise sigma ${sigma.toFixed(3)}): same-identity median ${median(check).toFixed(3)}, different-identity median ${median(checkDiff).toFixed(3)}\n`);

  console.log('1:N search per gallery size (one sample per identity in the gallery, the query another sample)');
  console.log(`${'faces'.padStart(10)} ${'index'.padStart(8)} ${'build s'.padStart(8)} ${'MB'.padStart(6)} ${'B/face'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'recall@1'.padStart(9)} ${'save s'.padStart(7)} ${'load s'.padStart(7)} ${'view s'.padStart(7)}`);
  for (const size of sizes) {
    // Exact, as the server holds it.
    const gallery = new ExactGallery(DIM, threads);
    const rows = new Map<FaceToken, number>();
    const heapBefore = process.memoryUsage();
    let start = performance.now();
    for (let row = 0; row < size; row++) {
      const token = `f${String(row).padStart(23, '0')}` as FaceToken;
      const code = quantize(sample(row, 0, sigma));
      gallery.upsert(token, code);
      rows.set(token, row);
    }
    const build = ms(start);
    const heapAfter = process.memoryUsage();
    const queries = Array.from({ length: queryCount }, (_, i) => {
      const id = Math.floor((i * 2654435761) % size);
      return { id, feature: sample(id, 1, sigma) };
    });
    const exactTimes: number[] = [];
    const exactBest: number[] = [];
    for (const q of queries) {
      start = performance.now();
      gallery.candidates(quantize(q.feature), 17);
      exactTimes.push(ms(start));
      exactBest.push(exactTop1(gallery, q.feature, sigma, rows));
    }
    const exactHits = exactBest.filter((best, i) => best === queries[i]!.id).length;
    const measuredBytes = heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers;
    console.log(
      `${int(size).padStart(10)} ${'exact'.padStart(8)} ${col(build / 1000, 8)} ${mb(gallery.bytes).padStart(6)} ${int(measuredBytes / size).padStart(7)} ${col(median(exactTimes), 7)} ${col(percentile(exactTimes, 99), 7)} ${col(exactHits / queryCount, 9, 3)} ${'-'.padStart(7)} ${'-'.padStart(7)} ${'-'.padStart(7)}`,
    );

    if (hnswSizes.has(size)) {
      const hnsw = new Index(HNSW);
      const keys = new BigUint64Array(size);
      for (let i = 0; i < size; i++) keys[i] = BigInt(i);
      start = performance.now();
      // The server's own int8 codes (quantize.ts), added as they are: usearch's
      // own float->i8 conversion (x*127) is too coarse for 512-d unit vectors.
      const CHUNK = 50_000;
      for (let from = 0; from < size; from += CHUNK) {
        const to = Math.min(size, from + CHUNK);
        const block = new Int8Array((to - from) * DIM);
        for (let row = from; row < to; row++) block.set(quantize(sample(row, 0, sigma)), (row - from) * DIM);
        hnsw.add(keys.subarray(from, to), block, 2);
      }
      const hnswBuild = ms(start);
      const file = join(dataDir, `hnsw-${size}.usearch`);
      start = performance.now();
      hnsw.save(file);
      const save = ms(start);
      start = performance.now();
      const loaded = new Index(HNSW);
      loaded.load(file);
      const load = ms(start);
      start = performance.now();
      const viewed = new Index(HNSW);
      viewed.view(file);
      const view = ms(start);
      const times: number[] = [];
      let agree = 0;
      for (const [i, q] of queries.entries()) {
        start = performance.now();
        const found = loaded.search(quantize(q.feature), 17, threads);
        times.push(ms(start));
        let best = -1;
        let bestCos = -Infinity;
        for (const key of found.keys) {
          const row = Number(key);
          if (row >= size) continue;
          const cos = cosineSimilarity(q.feature, sample(row, 0, sigma));
          if (cos > bestCos) [best, bestCos] = [row, cos];
        }
        if (best === exactBest[i]) agree++;
      }
      console.log(
        `${int(size).padStart(10)} ${'hnsw'.padStart(8)} ${col(hnswBuild / 1000, 8)} ${mb(statSync(file).size).padStart(6)} ${int(statSync(file).size / size).padStart(7)} ${col(median(times), 7)} ${col(percentile(times, 99), 7)} ${col(agree / queryCount, 9, 3)} ${col(save / 1000, 7)} ${col(load / 1000, 7)} ${col(view / 1000, 7)}`,
      );
      rmSync(file, { force: true });
    }
  }
  console.log('  exact MB: the int8 matrix and bookkeeping as the index counts it; B/face: heap+buffers measured around the build');
  console.log('  exact recall@1: the true identity is first; hnsw recall@1: agrees with exact\'s first (both re-ranked with float32)');
  console.log('  hnsw MB: the saved file; load = read into memory, view = memory-map (no rebuild either way)\n');

  // 3. Start-up from a store.
  {
    const storeDir = join(dataDir, 'startup-store');
    const store = await openLmdbStore({ path: storeDir });
    const group = 'startup' as GroupName;
    await store.createGroup(DEFAULT_LIBRARY, group);
    let start = performance.now();
    const BATCH = 2000;
    for (let from = 0; from < startupFaces; from += BATCH) {
      const faces = Array.from({ length: Math.min(BATCH, startupFaces - from) }, (_, i) => syntheticFace(engine.searchModel, newImageId(), sample(from + i, 0, 0.7)));
      // Concurrent writes share one LMDB commit, so filling the store takes seconds, not an fsync per face.
      await Promise.all(faces.map((face) => store.addImage({ imageId: face.imageId, mime: 'image/png', bytes: new Uint8Array(8), width: 1, height: 1, createdAt: 0 }, face)));
      await Promise.all(faces.map((face) => store.bind(DEFAULT_LIBRARY, group, face.faceToken)));
    }
    const fill = ms(start);
    await store.close();
    const reopened = await openLmdbStore({ path: storeDir });
    const rssBefore = process.memoryUsage().rss;
    start = performance.now();
    const index = await FaceIndex.open(reopened, { dimensions: DIM });
    const open = ms(start);
    const stats = index.stats();
    const rssAfter = process.memoryUsage().rss;
    index.close();
    await reopened.close();
    console.log('Start-up');
    console.log(`  store filled with ${int(startupFaces)} bound faces in ${(fill / 1000).toFixed(1)} s`);
    console.log(`  search index built from the store in ${(open / 1000).toFixed(2)} s (${int(stats.bindings)} faces, ${mb(stats.bytes)} MB counted, RSS +${mb(rssAfter - rssBefore)} MB)`);

    const serverDir = join(dataDir, 'server-startup');
    // The server keeps its store under <dataDir>/store: move the filled one there.
    rmSync(serverDir, { recursive: true, force: true });
    mkdirSync(serverDir, { recursive: true });
    renameSync(storeDir, join(serverDir, 'store'));
    start = performance.now();
    const server = await FaceServer.start({ config: benchServerConfig(serverDir), engine });
    const serverStart = ms(start);
    const rss = process.memoryUsage().rss;
    await server.close();
    console.log(`  whole server start (engine already loaded) to ready with them: ${(serverStart / 1000).toFixed(2)} s; process RSS then ${mb(rss)} MB\n`);
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
