// npm run bench:startup [-- --faces 100000 --json]
// Start-up and resident memory at scale. Fills a temporary data dir with
// --faces synthetic faces of the installed feature model, all bound to one
// group (through the store, in large concurrent batches), then starts the
// server in a fresh child process on an empty data dir and on the filled one
// (twice: cold and warm page cache), each time measuring
//   - model load: createOnnxEngine, as the server's start does it;
//   - server start: FaceServer.start beyond the model load (store open, the
//     model-upgrade check, snapshot folder, HTTP listen);
//   - the baseline of the same run: one full scan of the face records, what
//     every start did before the store counted faces per feature model
//     (facesOfOtherModels over all records, finding none);
//   - resident memory after the start, and after one full sync of the whole
//     group by a fresh terminal (snapshot built and downloaded, streamed and
//     counted, never held whole), on a server that has done nothing else,
//     split into JS heap (V8, used), external (Buffers and ArrayBuffers
//     outside the heap) and native (the rest of RSS: the ONNX sessions and
//     their arenas, LMDB's mapped pages the process touched, malloc); the
//     models' share is RSS after minus before createOnnxEngine.
// Then a fourth start on the filled store with the engine reporting another
// feature model: the server serves at once while the model upgrade waits
// (held by its test gate) in the background; and the upgrade's switch on
// the filled store (every face's new feature staged through the store, then
// the one finishFeatureUpgrade transaction, timed with the event loop's
// longest stall meanwhile).
// Memory per 100k faces = (filled - empty) scaled to 100,000 faces.
// --json: stdout is exactly one JSON object; the tables go to stderr.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildSyncRequest, FrameType, SYNC_MEDIA_TYPE, SYNC_PATH, SyncStreamDecoder, TerminalGallery } from '../device-protocol/index.js';
import { FaceServer } from '../server/app.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../server/core/ids.js';
import { createOnnxEngine, searchModelOf } from '../models/index.js';
import { openLmdbStore } from '../storage/index.js';
import { syntheticFace } from '../test/helpers/synthetic-faces.js';
import { withFeatureModel } from '../test/helpers/feature-model.js';
import { benchServerConfig, col, int, machineInfo, machineLines, positive } from './bench-common.js';

const GROUP = 'startup_all' as GroupName;
/** Store writes in flight while filling: lmdb-js commits everything queued together, so more in flight = fewer fsyncs. */
const FILL_IN_FLIGHT = 512;
const MB = 2 ** 20;

/** process.memoryUsage() split so the parts add up to RSS. */
interface MemorySplit {
  rss: number;
  /** V8 heap in use. */
  heap: number;
  /** Buffers/ArrayBuffers and other memory V8 knows of outside its heap. */
  external: number;
  /** RSS - V8 heap reserved - external: native allocations and touched mapped pages. */
  native: number;
}

interface ChildResult {
  faces: number;
  modelLoadMs: number;
  serverStartMs: number;
  fullScanMs: number;
  /** RSS added by createOnnxEngine (the models' sessions), bytes. */
  modelsRss: number;
  afterStart: MemorySplit;
  afterSync: MemorySplit | null;
  syncBytes: number | null;
}

function memory(): MemorySplit {
  global.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external, native: Math.max(0, m.rss - m.heapTotal - m.external) };
}

/** Bytes of a response body, read chunk by chunk (nothing large stays alive). */
async function drain(res: Response): Promise<number> {
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  return bytes;
}

// ---- child: one start, measured ---------------------------------------------

async function child(dataDir: string, sync: boolean, upgrade: boolean): Promise<ChildResult> {
  const config = benchServerConfig(dataDir, { engineThreads: 2 });
  const beforeModels = memory();
  let t = performance.now();
  const onnx = await createOnnxEngine({ intraOpThreads: config.engineThreads });
  // --upgrade: the same engine reporting another feature model, as after installing new weights.
  const engine = upgrade ? withFeatureModel(onnx, `${onnx.searchModel}-next`, (f) => f) : onnx;
  const modelLoadMs = performance.now() - t;
  const modelsRss = memory().rss - beforeModels.rss;
  t = performance.now();
  // The upgrade's re-extraction is held (gate) so it does not run into the measurements.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const server = await FaceServer.start({ config, engine, ...(upgrade ? { modelUpgrade: { gate: () => held } } : {}) });
  const serverStartMs = performance.now() - t;
  try {
    if (upgrade) {
      if (!server.modelUpgrade.upgrading) throw new Error('no model upgrade started');
      const version = await fetch(`${server.url}/api/version/v1`).then((r) => r.json() as Promise<{ data: { detail: { model_upgrade?: { state: string } } } }>);
      if (version.data.detail.model_upgrade?.state !== 'running') throw new Error('the version answer shows no running upgrade');
      return { faces: (await server.store.getGroup(DEFAULT_LIBRARY, GROUP))?.faceCount ?? 0, modelLoadMs, serverStartMs, fullScanMs: 0, modelsRss, afterStart: memory(), afterSync: null, syncBytes: null };
    }
    const afterStart = memory();
    t = performance.now();
    const leftover = await server.store.facesOfOtherModels(engine.searchModel, { limit: 64 });
    const fullScanMs = performance.now() - t;
    if (leftover.length > 0) throw new Error('faces of another model after the start');
    const group = await server.store.getGroup(DEFAULT_LIBRARY, GROUP);
    let afterSync: MemorySplit | null = null;
    let syncBytes: number | null = null;
    if (sync && group) {
      const headers = { authorization: `Bearer ${config.deviceKey}`, 'x-device-id': 'bench-startup' };
      const body = JSON.stringify(buildSyncRequest(new TerminalGallery({ groups: [GROUP] }), { clientVersion: 'bench-startup' }));
      const res = await fetch(server.url + SYNC_PATH, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: SYNC_MEDIA_TYPE }, body });
      // Decoded as it arrives: the stream (a reference to the snapshot, or
      // inline records for a small group) is never held whole.
      syncBytes = 0;
      const decoder = new SyncStreamDecoder();
      let snapshotUrl: string | undefined;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        syncBytes += chunk.byteLength;
        for (const frame of decoder.push(chunk)) if (frame.type === FrameType.Group) snapshotUrl = frame.group.snapshot?.url ?? snapshotUrl;
      }
      decoder.end();
      // The snapshot (about 2 KB per face in float32) is counted and dropped chunk by chunk.
      if (snapshotUrl) syncBytes += await drain(await fetch(new URL(snapshotUrl, server.url + SYNC_PATH), { headers }));
      afterSync = memory();
    }
    return { faces: group?.faceCount ?? 0, modelLoadMs, serverStartMs, fullScanMs, modelsRss, afterStart, afterSync, syncBytes };
  } finally {
    release();
    await server.close();
    await onnx.close();
  }
}

if (process.argv[2] === '--child') {
  const result = await child(process.argv[3]!, process.argv[4] === 'sync', process.argv[5] === 'upgrade');
  process.send!(result);
  process.disconnect();
} else {
  await main();
}

// ---- parent -----------------------------------------------------------------

function runChild(dataDir: string, sync: boolean, upgrade = false): Promise<ChildResult> {
  const proc = fork(fileURLToPath(import.meta.url), ['--child', dataDir, sync ? 'sync' : 'nosync', upgrade ? 'upgrade' : 'same'], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result: ChildResult | undefined;
    proc.on('message', (m: ChildResult) => (result = m));
    proc.on('exit', (code) => (result ? resolve(result) : reject(new Error(`start-up child exited with ${code}`))));
  });
}

async function fill(dataDir: string, count: number, model: string): Promise<number> {
  const store = await openLmdbStore({ path: join(dataDir, 'store') });
  const started = performance.now();
  try {
    await store.createGroup(DEFAULT_LIBRARY, GROUP);
    if (count === 0) return performance.now() - started;
    const placeholder = randomBytes(16);
    let next = 0;
    const tokens: FaceToken[] = [];
    await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, async () => {
      for (let i = next++; i < count; i = next++) {
        const face = syntheticFace(model);
        await store.addImage({ imageId: face.imageId, mime: 'image/png', bytes: placeholder, width: 200, height: 200, createdAt: Date.now() }, face);
        tokens.push(face.faceToken);
      }
    }));
    next = 0;
    await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, async () => {
      for (let i = next++; i < count; i = next++) await store.bind(DEFAULT_LIBRARY, GROUP, tokens[i]!);
    }));
  } finally {
    await store.close();
  }
  return performance.now() - started;
}

/**
 * The switch of a model upgrade on the filled store (after the upgraded
 * start recorded the upgrade): every face's new feature staged through the
 * store, then finishFeatureUpgrade, the one transaction that swaps them in.
 * Its time, and the longest event-loop stall meanwhile (the transaction's
 * body runs on the main thread).
 */
async function measureSwitch(dataDir: string): Promise<{ faces: number; stageMs: number; switchMs: number; maxStallMs: number }> {
  const store = await openLmdbStore({ path: join(dataDir, 'store') });
  try {
    const state = await store.featureUpgrade();
    if (!state) throw new Error('no model upgrade recorded in the filled store');
    let t = performance.now();
    let after: FaceToken | undefined;
    for (;;) {
      const page = await store.facesToUpgrade({ ...(after ? { after } : {}), limit: 2000 });
      if (page.length === 0) break;
      after = page[page.length - 1]!.faceToken;
      await Promise.all(page.map((face) => store.stageFeature(face.faceToken, state.to, face.feature.slice().reverse())));
    }
    const stageMs = performance.now() - t;
    const { monitorEventLoopDelay } = await import('node:perf_hooks');
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    t = performance.now();
    const result = await store.finishFeatureUpgrade(state.to);
    const switchMs = performance.now() - t;
    delay.disable();
    if (!result.switched) throw new Error(`switch refused: ${result.pending.length} faces pending`);
    return { faces: result.faces, stageMs, switchMs, maxStallMs: delay.max / 1e6 };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { faces: { type: 'string', default: '100000' }, json: { type: 'boolean', default: false } } });
  const faces = positive('faces', values.faces);
  const asJson = values.json === true;
  const say = (line = '') => (asJson ? process.stderr : process.stdout).write(`${line}\n`);
  // No faces, but the same (empty) group, so that its start and sync are the baseline.
  const emptyDir = mkdtempSync(join(tmpdir(), 'face-bench-start-empty-'));
  const fullDir = mkdtempSync(join(tmpdir(), 'face-bench-start-full-'));
  try {
    const machine = machineInfo(fullDir);
    for (const line of machineLines(machine)) say(line);
    const model = await searchModelOf();
    say(`\nFilling: ${int(faces)} synthetic faces of ${model}, all bound to one group (${FILL_IN_FLIGHT} writes in flight) ...`);
    const fillMs = await fill(fullDir, faces, model);
    say(`  ${int(faces)} adds + ${int(faces)} binds in ${(fillMs / 1000).toFixed(1)} s`);
    await fill(emptyDir, 0, model); // the same group, empty: its sync is measured too
    // Sequential: each start has the machine (as far as the other users let it) to itself.
    const empty = await runChild(emptyDir, true);
    const cold = await runChild(fullDir, true);
    const warm = await runChild(fullDir, false);
    // Last: it records an upgrade in the filled store.
    const upgraded = await runChild(fullDir, false, true);
    const switched = await measureSwitch(fullDir);
    if (cold.faces !== faces) throw new Error(`the filled store holds ${cold.faces} faces, expected ${faces}`);

    const rows: Array<[string, ChildResult]> = [
      ['empty store', empty], [`${int(faces)} faces, first start`, cold], [`${int(faces)} faces, again`, warm], [`${int(faces)} faces, new feature model`, upgraded],
    ];
    say('\nStart-up, each in a fresh process                model load ms  server start ms  full scan ms |  RSS MB  heap MB | after a full sync: RSS MB  heap MB');
    const mb = (x: number | undefined) => (x === undefined ? '-' : (x / MB).toFixed(1));
    for (const [label, r] of rows) {
      say(`  ${label.padEnd(46)}${col(r.modelLoadMs, 15, 0)}${col(r.serverStartMs, 17, 1)}${col(r.fullScanMs, 14, 1)} |` +
        `${col(r.afterStart.rss / MB, 8, 1)}${col(r.afterStart.heap / MB, 9, 1)} |` +
        `${col(mb(r.afterSync?.rss), 26)}${col(mb(r.afterSync?.heap), 9)}`);
    }
    const scale = 100_000 / faces;
    const per = (a: MemorySplit | null, b: MemorySplit | null, part: keyof MemorySplit) => (a && b ? ((a[part] - b[part]) / MB) * scale : null);
    const perStart = per(cold.afterStart, empty.afterStart, 'rss')!;
    const perSync = per(cold.afterSync, empty.afterSync, 'rss');
    const heapPerStart = per(cold.afterStart, empty.afterStart, 'heap')!;
    say(`  server start = FaceServer.start beyond the model load (store open, model-upgrade check, snapshots folder, listen)`);
    say(`  full scan = facesOfOtherModels over every face record, finding none: what every start did before the store`);
    say(`  counted faces per feature model (baseline of the same run). Server start with ${int(faces)} faces: first ` +
      `${cold.serverStartMs.toFixed(1)} ms, again ${warm.serverStartMs.toFixed(1)} ms; the scan it no longer does: ${cold.fullScanMs.toFixed(1)} / ${warm.fullScanMs.toFixed(1)} ms`);
    say(`  (start with the scan would be ${((cold.serverStartMs + cold.fullScanMs) / cold.serverStartMs).toFixed(2)}x / ` +
      `${((warm.serverStartMs + warm.fullScanMs) / warm.serverStartMs).toFixed(2)}x the start without it); the empty store starts in ${empty.serverStartMs.toFixed(1)} ms`);
    say(`  with a new feature model the start is ${upgraded.serverStartMs.toFixed(1)} ms (serving at once; the re-extraction of ${int(faces)} faces runs in the background)`);
    say(`  the upgrade's switch on ${int(switched.faces)} faces (new features staged through the store in ${(switched.stageMs / 1000).toFixed(1)} s): ` +
      `one transaction of ${switched.switchMs.toFixed(0)} ms, longest event-loop stall meanwhile ${switched.maxStallMs.toFixed(0)} ms`);
    say(`\nResident memory per 100,000 faces (filled minus empty, scaled), MB      RSS  JS heap  external  native`);
    const split = (label: string, a: MemorySplit | null, b: MemorySplit | null) => {
      const f = (part: keyof MemorySplit) => { const v = per(a, b, part); return v === null ? '-' : v.toFixed(1); };
      say(`  ${label.padEnd(66)}${col(f('rss'), 7)}${col(f('heap'), 9)}${col(f('external'), 10)}${col(f('native'), 8)}`);
    };
    split('after start', cold.afterStart, empty.afterStart);
    split(`after serving one full sync of the group (${int(cold.syncBytes ?? 0)} B)`, cold.afterSync, empty.afterSync);
    say(`  the models (not per face): ${(empty.modelsRss / MB).toFixed(1)} MB RSS added by createOnnxEngine; the empty store's server after start: ` +
      `${(empty.afterStart.rss / MB).toFixed(1)} MB RSS = ${(empty.afterStart.heap / MB).toFixed(1)} heap + ${(empty.afterStart.external / MB).toFixed(1)} external + ${(empty.afterStart.native / MB).toFixed(1)} native (+ heap reserve)`);
    say('  JS heap = V8 heap used (the search index\'s maps); external = Buffers and typed arrays (the index\'s int8 codes);');
    say('  native = the rest of RSS: LMDB pages the process touched (memory-mapped, shared with the page cache), ONNX, malloc');
    const loadAtEnd = loadavg();
    say(`\n  load average at end: ${loadAtEnd.map((x) => x.toFixed(2)).join(', ')}`);
    if (asJson) {
      process.stdout.write(`${JSON.stringify({ machine, faces, fillMs, empty, cold, warm, upgraded, switched, memoryPer100kFacesMB: {
        afterStart: perStart, heapAfterStart: heapPerStart, afterFullSync: perSync,
        split: {
          afterStart: { heap: heapPerStart, external: per(cold.afterStart, empty.afterStart, 'external'), native: per(cold.afterStart, empty.afterStart, 'native') },
          afterFullSync: { heap: per(cold.afterSync, empty.afterSync, 'heap'), external: per(cold.afterSync, empty.afterSync, 'external'), native: per(cold.afterSync, empty.afterSync, 'native') },
        },
        modelsMB: empty.modelsRss / MB,
      }, loadAtEnd }, null, 2)}\n`);
    }
  } finally {
    rmSync(emptyDir, { recursive: true, force: true });
    rmSync(fullDir, { recursive: true, force: true });
  }
}
