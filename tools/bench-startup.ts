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
//   - resident memory (RSS) and JS heap after the start, and after one full
//     sync of the whole group by a fresh terminal (snapshot built and
//     downloaded), on a server that has done nothing else.
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
import { benchServerConfig, col, int, machineInfo, machineLines, positive } from './bench-common.js';

const GROUP = 'startup_all' as GroupName;
/** Store writes in flight while filling: lmdb-js commits everything queued together, so more in flight = fewer fsyncs. */
const FILL_IN_FLIGHT = 512;
const MB = 2 ** 20;

interface ChildResult {
  faces: number;
  modelLoadMs: number;
  serverStartMs: number;
  fullScanMs: number;
  rssAfterStart: number;
  heapAfterStart: number;
  rssAfterSync: number | null;
  heapAfterSync: number | null;
  syncBytes: number | null;
}

// ---- child: one start, measured ---------------------------------------------

async function child(dataDir: string, sync: boolean): Promise<ChildResult> {
  const config = benchServerConfig(dataDir, { engineThreads: 2 });
  let t = performance.now();
  const engine = await createOnnxEngine({ intraOpThreads: config.engineThreads });
  const modelLoadMs = performance.now() - t;
  t = performance.now();
  const server = await FaceServer.start({ config, engine });
  const serverStartMs = performance.now() - t;
  try {
    global.gc?.();
    const afterStart = process.memoryUsage();
    t = performance.now();
    const leftover = await server.store.facesOfOtherModels(engine.searchModel, { limit: 64 });
    const fullScanMs = performance.now() - t;
    if (leftover.length > 0) throw new Error('faces of another model after the start');
    const group = await server.store.getGroup(DEFAULT_LIBRARY, GROUP);
    let rssAfterSync: number | null = null;
    let heapAfterSync: number | null = null;
    let syncBytes: number | null = null;
    if (sync && group) {
      const headers = { authorization: `Bearer ${config.deviceKey}`, 'x-device-id': 'bench-startup' };
      const body = JSON.stringify(buildSyncRequest(new TerminalGallery({ groups: [GROUP] }), { clientVersion: 'bench-startup' }));
      const res = await fetch(server.url + SYNC_PATH, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: SYNC_MEDIA_TYPE }, body });
      const stream = new Uint8Array(await res.arrayBuffer());
      syncBytes = stream.length;
      const decoder = new SyncStreamDecoder();
      let snapshotUrl: string | undefined;
      for (const frame of decoder.push(stream)) if (frame.type === FrameType.Group) snapshotUrl = frame.group.snapshot?.url;
      decoder.end();
      if (snapshotUrl) {
        const snapshot = await fetch(new URL(snapshotUrl, server.url + SYNC_PATH), { headers });
        syncBytes += (await snapshot.arrayBuffer()).byteLength;
      }
      global.gc?.();
      const afterSync = process.memoryUsage();
      rssAfterSync = afterSync.rss;
      heapAfterSync = afterSync.heapUsed;
    }
    return {
      faces: group?.faceCount ?? 0, modelLoadMs, serverStartMs, fullScanMs,
      rssAfterStart: afterStart.rss, heapAfterStart: afterStart.heapUsed, rssAfterSync, heapAfterSync, syncBytes,
    };
  } finally {
    await server.close();
    await engine.close();
  }
}

if (process.argv[2] === '--child') {
  const result = await child(process.argv[3]!, process.argv[4] === 'sync');
  process.send!(result);
  process.disconnect();
} else {
  await main();
}

// ---- parent -----------------------------------------------------------------

function runChild(dataDir: string, sync: boolean): Promise<ChildResult> {
  const proc = fork(fileURLToPath(import.meta.url), ['--child', dataDir, sync ? 'sync' : 'nosync'], {
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
    if (cold.faces !== faces) throw new Error(`the filled store holds ${cold.faces} faces, expected ${faces}`);

    const rows: Array<[string, ChildResult]> = [['empty store', empty], [`${int(faces)} faces, first start`, cold], [`${int(faces)} faces, again`, warm]];
    say('\nStart-up, each in a fresh process                model load ms  server start ms  full scan ms |  RSS MB  heap MB | after a full sync: RSS MB  heap MB');
    for (const [label, r] of rows) {
      say(`  ${label.padEnd(46)}${col(r.modelLoadMs, 15, 0)}${col(r.serverStartMs, 17, 1)}${col(r.fullScanMs, 14, 1)} |` +
        `${col(r.rssAfterStart / MB, 8, 1)}${col(r.heapAfterStart / MB, 9, 1)} |` +
        `${col(r.rssAfterSync === null ? '-' : (r.rssAfterSync / MB).toFixed(1), 26)}${col(r.heapAfterSync === null ? '-' : (r.heapAfterSync / MB).toFixed(1), 9)}`);
    }
    const scale = 100_000 / faces;
    const perStart = ((cold.rssAfterStart - empty.rssAfterStart) / MB) * scale;
    const perSync = cold.rssAfterSync !== null && empty.rssAfterSync !== null ? ((cold.rssAfterSync - empty.rssAfterSync) / MB) * scale : null;
    const heapPerStart = ((cold.heapAfterStart - empty.heapAfterStart) / MB) * scale;
    say(`  server start = FaceServer.start beyond the model load (store open, model-upgrade check, snapshots folder, listen)`);
    say(`  full scan = facesOfOtherModels over every face record, finding none: what every start did before the store`);
    say(`  counted faces per feature model (baseline of the same run). Server start with ${int(faces)} faces: first ` +
      `${cold.serverStartMs.toFixed(1)} ms, again ${warm.serverStartMs.toFixed(1)} ms; the scan it no longer does: ${cold.fullScanMs.toFixed(1)} / ${warm.fullScanMs.toFixed(1)} ms`);
    say(`  (start with the scan would be ${((cold.serverStartMs + cold.fullScanMs) / cold.serverStartMs).toFixed(2)}x / ` +
      `${((warm.serverStartMs + warm.fullScanMs) / warm.serverStartMs).toFixed(2)}x the start without it); the empty store starts in ${empty.serverStartMs.toFixed(1)} ms`);
    say(`\nResident memory per 100,000 faces (filled minus empty, scaled): after start ${perStart.toFixed(1)} MB RSS ` +
      `(${heapPerStart.toFixed(1)} MB JS heap); after serving one full sync of the group (${int(cold.syncBytes ?? 0)} B) ${perSync?.toFixed(1) ?? '-'} MB RSS`);
    say('  RSS counts the LMDB pages the process touched (memory-mapped file pages, shared with the page cache)');
    const loadAtEnd = loadavg();
    say(`\n  load average at end: ${loadAtEnd.map((x) => x.toFixed(2)).join(', ')}`);
    if (asJson) {
      process.stdout.write(`${JSON.stringify({ machine, faces, fillMs, empty, cold, warm, memoryPer100kFacesMB: { afterStart: perStart, heapAfterStart: heapPerStart, afterFullSync: perSync }, loadAtEnd }, null, 2)}\n`);
    }
  } finally {
    rmSync(emptyDir, { recursive: true, force: true });
    rmSync(fullDir, { recursive: true, force: true });
  }
}
