// npm run bench:sync [-- --sizes 2000,100000 --clients 1000 --changes 20 --storm-rate 1000 --storm-seconds 2 --reps 3 --only push --push-order interleaved|sequential --json]
// --only push: fill, then the push part (3.) alone; the pool is --sizes' largest (the storm binds up to
// --storm-rate x --storm-seconds of it), so `--only push --sizes 2001` is the short run.
// Terminal sync and push against a real server started in-process (127.0.0.1,
// port 0, temporary data dir, log level silent). One group per --sizes entry,
// filled with synthetic faces straight through server.store (a face pool of
// the largest size; group N binds its first N faces).
// 1. FULL sync of a fresh terminal (empty gallery, no model: the server
//    answers RESET) per group size and feature encoding:
//    - bytes: sync stream body + snapshot body (HTTP headers not counted);
//      inline or snapshot (groups with MORE than config.sync.snapshotThreshold
//      faces come as a snapshot file reference);
//    - server ms: fetching the raw bytes (POST /api/service/sync/v1 with the
//      body buildSyncRequest makes, read to the end, then GET of the snapshot
//      it refers to), cold (first request for that version and encoding:
//      snapshot build or body encoding included) and warm (snapshot file /
//      body cache);
//    - apply ms: applySyncStream of the downloaded bytes, fed from memory
//      (snapshot too), into a fresh TerminalGallery;
//    - terminal ms: the reference TerminalClient.syncOnce() end to end (warm).
//    Then a one-change DELTA on the largest group: each encoding's terminal
//    holds the full group, ONE face is bound, the same measurements follow;
//    apply goes into a gallery holding the full group.
//    Ratios float16/float32 and int8/float32 come from the same run.
// 2. Accuracy of float16/int8 on real features (every test/fixtures/faces/people
//    photo: decode, detect, embed the first face): change of the cosine score
//    of every pair when both features go through encodeFeature/decodeFeature.
// 3. Push fan-out (tools/bench-push.ts): --clients raw WebSocket terminals
//    (tools/raw-ws-client.ts) in a separate process, all holding one group.
//    Floors: the same crowd on a plain ws server sending one pre-encoded
//    notice to all, by ws.send() and framed once (baselines of the same
//    run). Hub: --changes bind/unbind commits through server.store, latency
//    from the store's onCommit to each terminal's read of its VersionNotice.
//    Storm: --storm-rate binds/s for --storm-seconds; notices per terminal
//    against the coalescing window.
// 4. Bytes per face next to the FacePass spec's figures (底库同步).
// Warm fetches and applies: median of --reps (3x for the delta). Client and
// server share one process and one event loop: server ms include reading the
// body (node:http, keep-alive), push latencies include the clients' own
// message handling.
// --json: stdout is exactly one JSON object; the tables go to stderr.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  applySyncStream,
  buildSyncRequest,
  decodeFeature,
  DEVICE_ID_HEADER,
  encodedFeatureLength,
  encodeFeature,
  FEATURE_ENCODINGS,
  FrameType,
  SYNC_MEDIA_TYPE,
  SYNC_PATH,
  SyncKind,
  SyncStreamDecoder,
  TerminalClient,
  TerminalGallery,
  type FeatureEncoding,
  type FetchLike,
  type GalleryState,
  type GroupResult,
  type ResponseLike,
  type SyncReport,
  type SyncRequestBody,
} from '../device-protocol/index.js';
import { FaceServer } from '../server/app.js';
import { benchPush } from './bench-push.js';
import { benchServerConfig, col, int, machineInfo, machineLines, mean, median, positive } from './bench-common.js';
import { retryOnStaleSocket } from './bench-http.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../server/core/ids.js';
import { cosineSimilarity, createOnnxEngine, type DecodeLimits } from '../models/index.js';
import { syntheticFace } from '../test/helpers/synthetic-faces.js';
import { FACES_DIR, PEOPLE } from '../test/helpers/paths.js';

/** Store writes in flight while filling (each one is a durable commit; LMDB batches concurrent ones). */
const FILL_IN_FLIGHT = 64;
const CLIENT_VERSION = 'bench-sync';
/** Faces of the warm-up group (inline, synced in every encoding before anything is measured). */
const WARMUP_FACES = 500;
/** The spec (底库同步, 返回参数): "一个feature大约4k，2000人底库就是8M". */
const SPEC_QUOTE = '一个feature大约4k，2000人底库就是8M，json解析过慢';
const SPEC_FEATURE_BYTES = 4096;
const SPEC_GROUP_FACES = 2000;
const SPEC_GROUP_BYTES = SPEC_GROUP_FACES * SPEC_FEATURE_BYTES;
const PHOTO_LIMITS: DecodeLimits = { maxBytes: 16 << 20, maxPixels: 40_000_000, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '2000,100000' },
    clients: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '20' },
    'storm-rate': { type: 'string', default: '1000' },
    'storm-seconds': { type: 'string', default: '2' },
    reps: { type: 'string', default: '3' },
    only: { type: 'string', default: 'all' },
    'push-order': { type: 'string', default: 'interleaved' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = [...new Set((values.sizes ?? '').split(',').map((s) => positive('sizes', s.trim())))].sort((a, b) => a - b);
const clientCount = positive('clients', values.clients);
const changeCount = positive('changes', values.changes);
const stormRate = positive('storm-rate', values['storm-rate']);
const stormSeconds = positive('storm-seconds', values['storm-seconds']);
const reps = positive('reps', values.reps);
/** A delta costs milliseconds: more runs, for a steadier median. */
const deltaReps = 3 * reps;
const asJson = values.json === true;
if (values.only !== 'all' && values.only !== 'push') throw new Error(`--only: 'all' or 'push', not ${values.only}`);
const pushOrder = values['push-order'];
if (pushOrder !== 'interleaved' && pushOrder !== 'sequential') throw new Error(`--push-order: 'interleaved' or 'sequential', not ${pushOrder}`);
/** Sections 1, 2 and 4 (sync, accuracy, spec) are skipped: the push part alone, for short runs. */
const pushOnly = values.only === 'push';
/** Human-readable output: stdout, or stderr when stdout carries the JSON object. */
const say = (line = '') => (asJson ? process.stderr : process.stdout).write(`${line}\n`);

// ---- statistics and formatting ---------------------------------------------

const kindName = (kind: number) => Object.entries(SyncKind).find(([, v]) => v === kind)?.[0].toUpperCase() ?? String(kind);

// ---- setup -----------------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), 'face-bench-sync-'));
const config = benchServerConfig(dataDir, { engineThreads: 2 });
const deviceKey = config.deviceKey!;
const machine = machineInfo(dataDir);
for (const line of machineLines(machine)) say(line);
say(`  group sizes: ${sizes.map(int).join(', ')}; push clients: ${int(clientCount)}; changes: ${changeCount}; reps: ${reps}`);

const engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
const server = await FaceServer.start({ config, engine });
const store = server.store;
const syncUrl = server.url + SYNC_PATH;
const agent = new Agent({ keepAlive: true });

const json: Record<string, unknown> = {
  machine,
  options: {
    sizes, clients: clientCount, changes: changeCount, reps,
    snapshotThreshold: config.sync.snapshotThreshold, coalesceMs: server.push.options.coalesceMs,
    featureDim: engine.featureLength,
  },
};

// ---- raw HTTP: what the server sends, timed on the wire --------------------

interface Download {
  chunks: Buffer[];
  bytes: number;
  ms: number;
  etag: string | null;
}

/**
 * One request on a keep-alive connection, body read to the end; ms from
 * sending to the last byte. The server drops connections idle for 5 s
 * (Node's keepAliveTimeout), which the long apply runs leave them: a request
 * that meets such a connection closing fails with ECONNRESET before any
 * response and is sent again on a new one (Node's documented retry, timed anew).
 */
function download(method: 'GET' | 'POST', url: string, body?: string): Promise<Download> {
  return retryOnStaleSocket(() => downloadOnce(method, url, body));
}

function downloadOnce(method: 'GET' | 'POST', url: string, body?: string): Promise<Download> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${deviceKey}`,
      [DEVICE_ID_HEADER]: 'bench-sync-raw',
      accept: SYNC_MEDIA_TYPE,
    };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        bytes += chunk.length;
      });
      res.on('end', () => {
        const ms = performance.now() - started;
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith(SYNC_MEDIA_TYPE)) {
          reject(new Error(`${method} ${url}: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
          return;
        }
        resolve({ chunks, bytes, ms, etag: (res.headers.etag as string | undefined) ?? null });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}

interface Fetched {
  body: Download;
  snapshot: (Download & { url: string }) | null;
  result: GroupResult;
  /** POST + snapshot GET. */
  ms: number;
  bytes: number;
}

/** The sync response and the snapshot it refers to, as raw bytes. */
async function fetchSync(requestBody: SyncRequestBody): Promise<Fetched> {
  const body = await download('POST', syncUrl, JSON.stringify(requestBody));
  // Outside the timing: the group result, for its kind and snapshot reference.
  const decoder = new SyncStreamDecoder();
  let result: GroupResult | undefined;
  for (const chunk of body.chunks) {
    for (const frame of decoder.push(chunk)) if (frame.type === FrameType.Group) result = frame.group;
  }
  decoder.end();
  if (!result) throw new Error('sync response without a group result');
  let snapshot: Fetched['snapshot'] = null;
  if (result.snapshot) {
    const url = new URL(result.snapshot.url, syncUrl).href;
    snapshot = { ...(await download('GET', url)), url };
  }
  return { body, snapshot, result, ms: body.ms + (snapshot?.ms ?? 0), bytes: body.bytes + (snapshot?.bytes ?? 0) };
}

async function* replay(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

/** A fetch that serves the downloaded snapshot from memory (404 for anything else). */
function memoryFetch(snapshot: Fetched['snapshot']): FetchLike {
  return async (url): Promise<ResponseLike> => {
    if (!snapshot || url !== snapshot.url) return { status: 404, ok: false, headers: { get: () => null }, body: null, text: async () => '' };
    const headers = { etag: snapshot.etag, 'content-type': SYNC_MEDIA_TYPE };
    return {
      status: 200,
      ok: true,
      headers: { get: (name) => headers[name.toLowerCase() as keyof typeof headers] ?? null },
      body: replay(snapshot.chunks),
      text: async () => '',
    };
  };
}

/** A gallery holding `state` (states are immutable values, so several galleries may share one). */
function galleryFrom(state: GalleryState): TerminalGallery {
  const gallery = new TerminalGallery();
  gallery.commit(gallery.state, state);
  return gallery;
}

interface SyncRow {
  faces: number;
  encoding: FeatureEncoding;
  kind: string;
  viaSnapshot: boolean;
  bytes: number;
  /** Full copies only (null for a delta). */
  bytesPerFace: number | null;
  serverColdMs: number;
  /** The cold time split: the POST (for a snapshot reference: the snapshot build) and the snapshot GET (null: inline). */
  serverColdPostMs: number;
  serverColdGetMs: number | null;
  serverWarmMs: number;
  serverWarmRuns: number[];
  applyMs: number;
  applyRuns: number[];
  terminalMs: number;
}

/**
 * Cold fetch, then `runs` warm fetches, then `runs` applies of the last
 * download into galleries from `makeGallery`; checks the result holds
 * `expect.faces` faces and is of `expect.kind`.
 */
async function measure(
  requestBody: SyncRequestBody,
  makeGallery: () => TerminalGallery,
  expect: { kind: number; faces: number },
  runs: number,
): Promise<Omit<SyncRow, 'faces' | 'encoding' | 'terminalMs'>> {
  const cold = await fetchSync(requestBody);
  const serverColdMs = cold.ms;
  let latest = cold;
  const serverWarmRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    latest = await fetchSync(requestBody);
    serverWarmRuns.push(latest.ms);
  }
  if (latest.result.kind !== expect.kind) throw new Error(`expected ${kindName(expect.kind)}, got ${kindName(latest.result.kind)}`);
  const applyRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    const gallery = makeGallery();
    const t = performance.now();
    const report = await applySyncStream(gallery, replay(latest.body.chunks), { fetch: memoryFetch(latest.snapshot), requestUrl: syncUrl });
    applyRuns.push(performance.now() - t);
    checkReport(report, expect.faces);
  }
  return {
    kind: kindName(latest.result.kind),
    viaSnapshot: latest.snapshot !== null,
    bytes: latest.bytes,
    bytesPerFace: expect.kind === SyncKind.Delta ? null : latest.bytes / expect.faces,
    serverColdMs,
    serverColdPostMs: cold.body.ms,
    serverColdGetMs: cold.snapshot?.ms ?? null,
    serverWarmMs: median(serverWarmRuns),
    serverWarmRuns,
    applyMs: median(applyRuns),
    applyRuns,
  };
}

function checkReport(report: SyncReport, faces: number): void {
  const group = report.groups[0];
  if (!group || group.mismatch || group.faceCount !== faces) {
    throw new Error(`sync applied wrongly: ${JSON.stringify(group)} (expected ${faces} faces)`);
  }
}

/** The reference client end to end (global fetch, streaming apply); returns ms and checks its bytes. */
async function terminalSync(client: TerminalClient, faces: number, rawBytes: number): Promise<number> {
  const t = performance.now();
  const report = await client.syncOnce();
  const ms = performance.now() - t;
  checkReport(report, faces);
  const bytes = report.bytes + report.snapshotBytes;
  if (!Number.isNaN(rawBytes) && bytes !== rawBytes) say(`  ! TerminalClient received ${int(bytes)} bytes, the raw fetch ${int(rawBytes)}`);
  return ms;
}

try {
  // ---- fill ----------------------------------------------------------------

  const groups = sizes.map((size) => ({ size, name: `sync_${size}` as GroupName }));
  const pushGroup = 'bench_push' as GroupName;
  for (const g of groups) await store.createGroup(DEFAULT_LIBRARY, g.name);
  await store.createGroup(DEFAULT_LIBRARY, pushGroup);

  const placeholder = randomBytes(16);
  const addFace = async (): Promise<FaceToken> => {
    const face = syntheticFace(engine.searchModel);
    await store.addImage({ imageId: face.imageId, mime: 'image/png', bytes: placeholder, width: 200, height: 200, createdAt: Date.now() }, face);
    return face.faceToken;
  };
  const poolSize = sizes.at(-1)!;
  const pool: FaceToken[] = new Array<FaceToken>(poolSize);
  let binds = 0;
  let next = 0;
  say(`\nFilling: ${int(poolSize)} synthetic faces (random unit ${engine.featureLength}-d features), group N binds the first N ...`);
  const fillStarted = performance.now();
  await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, async () => {
    for (let i = next++; i < poolSize; i = next++) {
      const token = await addFace();
      pool[i] = token;
      for (const g of groups) {
        if (i >= g.size) continue;
        await store.bind(DEFAULT_LIBRARY, g.name, token);
        binds++;
      }
    }
  }));
  const fillMs = performance.now() - fillStarted;
  const deltaFace = await addFace();
  for (const g of groups) {
    const record = await store.getGroup(DEFAULT_LIBRARY, g.name);
    if (record?.faceCount !== g.size) throw new Error(`group ${g.name} holds ${record?.faceCount} faces, expected ${g.size}`);
  }
  say(`  ${int(poolSize)} face adds + ${int(binds)} binds in ${(fillMs / 1000).toFixed(1)} s ` +
    `(${int(((poolSize + binds) / fillMs) * 1000)} writes/s, ${FILL_IN_FLIGHT} in flight, each a durable commit)`);
  json.fill = { faces: poolSize, binds, ms: fillMs, writesPerSec: ((poolSize + binds) / fillMs) * 1000, inFlight: FILL_IN_FLIGHT };

  if (!pushOnly) {
    // Warm-up (not counted): JIT of the encode, decode and apply paths, and the
    // keep-alive connections, on a small inline group, every encoding.
    const warmGroup = 'bench_warmup' as GroupName;
    await store.createGroup(DEFAULT_LIBRARY, warmGroup);
    const warmFaces = Math.min(WARMUP_FACES, poolSize);
    for (let i = 0; i < warmFaces; i++) await store.bind(DEFAULT_LIBRARY, warmGroup, pool[i]!);
    for (const encoding of FEATURE_ENCODINGS) {
      const fresh = () => new TerminalGallery({ groups: [warmGroup] });
      await measure(buildSyncRequest(fresh(), { clientVersion: CLIENT_VERSION, featureEncoding: encoding }), fresh, { kind: SyncKind.Reset, faces: warmFaces }, 1);
      const client = new TerminalClient({ baseUrl: server.url, key: deviceKey, deviceId: `bench-warmup-${encoding}`, groups: [warmGroup], featureEncoding: encoding, clientVersion: CLIENT_VERSION });
      await terminalSync(client, warmFaces, NaN);
      await client.close();
    }

    // ---- 1. full sync per size and encoding --------------------------------

    const largest = groups.at(-1)!;
    /** The largest group as each encoding's terminal holds it, for the delta. */
    const held = new Map<FeatureEncoding, GalleryState>();
    const fullRows: SyncRow[] = [];
    for (const g of groups) {
      for (const encoding of FEATURE_ENCODINGS) {
        const fresh = () => new TerminalGallery({ groups: [g.name] });
        const requestBody = buildSyncRequest(fresh(), { clientVersion: CLIENT_VERSION, featureEncoding: encoding });
        const m = await measure(requestBody, fresh, { kind: SyncKind.Reset, faces: g.size }, reps);
        const client = new TerminalClient({ baseUrl: server.url, key: deviceKey, deviceId: `bench-${g.size}-${encoding}`, groups: [g.name], featureEncoding: encoding, clientVersion: CLIENT_VERSION });
        const terminalMs = await terminalSync(client, g.size, m.bytes);
        await client.close();
        if (g === largest) held.set(encoding, client.gallery.state);
        fullRows.push({ faces: g.size, encoding, ...m, terminalMs });
      }
    }

    // ---- 1b. one-change delta on the largest group --------------------------

    const bound = await store.bind(DEFAULT_LIBRARY, largest.name, deltaFace);
    if (!bound) throw new Error('the delta bind was a no-op');
    const deltaRows: SyncRow[] = [];
    for (const encoding of FEATURE_ENCODINGS) {
      const state = held.get(encoding)!;
      const requestBody = buildSyncRequest(galleryFrom(state), { clientVersion: CLIENT_VERSION, featureEncoding: encoding });
      const m = await measure(requestBody, () => galleryFrom(state), { kind: SyncKind.Delta, faces: largest.size + 1 }, deltaReps);
      const client = new TerminalClient({
        baseUrl: server.url, key: deviceKey, deviceId: `bench-delta-${encoding}`, groups: [largest.name],
        gallery: galleryFrom(state), featureEncoding: encoding, clientVersion: CLIENT_VERSION,
      });
      const terminalMs = await terminalSync(client, largest.size + 1, m.bytes);
      await client.close();
      deltaRows.push({ faces: largest.size + 1, encoding, ...m, terminalMs });
    }
    // Baseline of the same run: what staging a DELTA cost before (apply.ts copied
    // the held group's face map into a new native Map, then changed the copy).
    const heldFaces = [...held.get('float32')!.groups.get(largest.name)!.faces];
    const nativeHeld = new Map(heldFaces);
    const copyRuns: number[] = [];
    for (let i = 0; i < deltaReps; i++) {
      const t = performance.now();
      const copy = new Map(nativeHeld);
      copy.set('x', heldFaces[0]![1]);
      copyRuns.push(performance.now() - t);
    }
    const copyMs = median(copyRuns);
    held.clear();

    const rowHeader = '  encoding  kind    via         body bytes    B/face | server ms: cold     warm | apply ms | terminal ms';
    const rowLine = (r: SyncRow) =>
      `  ${r.encoding.padEnd(8)}  ${r.kind.padEnd(6)}  ${(r.viaSnapshot ? 'snapshot' : 'inline').padEnd(8)}${col(int(r.bytes), 14)}${col(r.bytesPerFace ?? '-', 10, 1)} |` +
      `${col(r.serverColdMs, 16)}${col(r.serverWarmMs, 9)} |${col(r.applyMs, 9)} |${col(r.terminalMs, 12)}`;
    say(`\nFull sync of a fresh terminal (empty gallery, no model yet: RESET = full copy); warm and apply: median of ${reps}`);
    say(`  (snapshot when a group has more than ${int(config.sync.snapshotThreshold)} faces; bytes = sync body + snapshot body)`);
    for (const g of groups) {
      say(`  -- ${int(g.size)} faces`);
      say(rowHeader);
      const rows = fullRows.filter((x) => x.faces === g.size);
      for (const r of rows) say(rowLine(r));
      const viaSnapshot = rows.filter((r) => r.serverColdGetMs !== null);
      if (viaSnapshot.length > 0) {
        say(`  cold = POST (answers once the snapshot is built) + snapshot GET: ${viaSnapshot
          .map((r) => `${r.encoding} ${r.serverColdPostMs.toFixed(0)} + ${r.serverColdGetMs!.toFixed(0)}`).join(', ')} ms`);
      }
    }
    const full32 = fullRows.find((r) => r.faces === largest.size && r.encoding === 'float32')!;
    say(`\nOne-change DELTA on the ${int(largest.size)}-face group (terminal holds the full group in that encoding; one face bound);`);
    say(`  warm and apply: median of ${deltaReps}`);
    say(rowHeader + ' | delta/full bytes');
    for (const r of deltaRows) {
      const full = fullRows.find((x) => x.faces === largest.size && x.encoding === r.encoding)!;
      say(`${rowLine(r)} |${col(r.bytes / full.bytes, 17, 6)}`);
    }
    const delta32 = deltaRows.find((r) => r.encoding === 'float32')!;
    say(`  apply stages only the delta's records (face-journal.ts) and applies them to a copy-on-write map (face-map.ts) after every check:`);
    say(`  baseline, same run: copying the held ${int(largest.size)}-face group as a native Map (what apply did before) ${copyMs.toFixed(3)} ms, ` +
      `${(copyMs / delta32.applyMs).toFixed(1)}x the whole float32 delta apply (${delta32.applyMs.toFixed(3)} ms)`);
    say(`  goal (issue 12): one-change delta on ${int(largest.size)} faces applied in < 1 ms: ` +
      `${deltaRows.every((r) => r.applyMs < 1) ? 'met' : 'NOT met'} (${deltaRows.map((r) => `${r.encoding} ${r.applyMs.toFixed(3)}`).join(', ')} ms, median of ${deltaReps})`);
    say(`  (the delta's ${deltaRows.map((r) => `${r.encoding} ${int(r.bytes)} B`).join(', ')} vs ${int(full32.bytes)} B for the float32 full copy)`);

    interface RatioRow { what: string; encoding: FeatureEncoding; bytes: number; serverCold: number; serverWarm: number; apply: number; terminal: number }
    const ratioRows: RatioRow[] = [];
    const sets: Array<[string, SyncRow[]]> = [
      ...groups.map((g): [string, SyncRow[]] => [`full ${int(g.size)}`, fullRows.filter((r) => r.faces === g.size)]),
      [`delta ${int(largest.size)}`, deltaRows],
    ];
    for (const [what, rows] of sets) {
      const base = rows.find((r) => r.encoding === 'float32')!;
      for (const r of rows.filter((x) => x.encoding !== 'float32')) {
        ratioRows.push({
          what, encoding: r.encoding, bytes: r.bytes / base.bytes, serverCold: r.serverColdMs / base.serverColdMs,
          serverWarm: r.serverWarmMs / base.serverWarmMs, apply: r.applyMs / base.applyMs, terminal: r.terminalMs / base.terminalMs,
        });
      }
    }
    say('\nAgainst float32, same run (encoding / float32)');
    say('  sync            encoding    bytes  server cold  server warm    apply  terminal');
    for (const r of ratioRows) {
      say(`  ${r.what.padEnd(14)}  ${r.encoding.padEnd(8)}${col(r.bytes, 9, 3)}${col(r.serverCold, 13, 3)}${col(r.serverWarm, 13, 3)}${col(r.apply, 9, 3)}${col(r.terminal, 10, 3)}`);
    }
    say('  server ms = POST read to the end + GET of the snapshot (in-process node:http client); cold = first request for');
    say('  that version and encoding (snapshot build or body encoding), warm = snapshot file / body cache;');
    say('  apply = applySyncStream from memory (no network); terminal = TerminalClient.syncOnce() over HTTP (global fetch), warm');
    json.full = fullRows;
    json.deltaBaselineCopyMs = copyMs;
    json.delta = deltaRows.map((r) => ({ ...r, overFullBytes: r.bytes / fullRows.find((x) => x.faces === largest.size && x.encoding === r.encoding)!.bytes }));
    json.ratiosToFloat32 = ratioRows;

    // ---- 2. accuracy of lossy encodings on real features -------------------

    const photos: Array<{ person: string; file: string; feature: Float32Array }> = [];
    const faceless: string[] = [];
    for (const person of PEOPLE) {
      const dir = join(FACES_DIR, 'people', person);
      for (const file of readdirSync(dir).sort()) {
        const image = await engine.decode(readFileSync(join(dir, file)), PHOTO_LIMITS);
        const [face] = await engine.detect(image);
        if (!face) {
          faceless.push(`${person}/${file}`);
          continue;
        }
        photos.push({ person, file, feature: await engine.embed(image, face) });
      }
    }
    const norm = (f: Float32Array) => Math.sqrt(cosineSimilarity(f, f));
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < photos.length; i++) for (let j = i + 1; j < photos.length; j++) pairs.push([i, j]);
    const scores32 = pairs.map(([i, j]) => cosineSimilarity(photos[i]!.feature, photos[j]!.feature));
    const genuine = pairs.flatMap(([i, j], k) => (photos[i]!.person === photos[j]!.person ? [scores32[k]!] : []));
    const impostor = pairs.flatMap(([i, j], k) => (photos[i]!.person !== photos[j]!.person ? [scores32[k]!] : []));
    interface AccuracyRow { encoding: FeatureEncoding; featureBytes: number; maxAbsChange: number; meanAbsChange: number; maxAbsChangeRenormalised: number; meanAbsChangeRenormalised: number }
    const accuracy: AccuracyRow[] = [];
    for (const encoding of FEATURE_ENCODINGS.filter((e) => e !== 'float32')) {
      const lossy = photos.map((p) => decodeFeature(encodeFeature(p.feature, encoding), encoding, p.feature.length));
      const norms = lossy.map(norm);
      const raw = pairs.map(([i, j], k) => Math.abs(cosineSimilarity(lossy[i]!, lossy[j]!) - scores32[k]!));
      const renormalised = pairs.map(([i, j], k) => Math.abs(cosineSimilarity(lossy[i]!, lossy[j]!) / (norms[i]! * norms[j]!) - scores32[k]!));
      accuracy.push({
        encoding, featureBytes: encodedFeatureLength(engine.featureLength, encoding),
        maxAbsChange: Math.max(...raw), meanAbsChange: mean(raw),
        maxAbsChangeRenormalised: Math.max(...renormalised), meanAbsChangeRenormalised: mean(renormalised),
      });
    }
    say(`\nAccuracy on real features: ${photos.length} people photos (${PEOPLE.length} people), ${int(pairs.length)} pairs` +
      (faceless.length > 0 ? `; no face found in ${faceless.join(', ')}` : ''));
    say(`  float32 cosine scores: same person ${Math.min(...genuine).toFixed(4)}..${Math.max(...genuine).toFixed(4)} (${genuine.length} pairs), ` +
      `different people ${Math.min(...impostor).toFixed(4)}..${Math.max(...impostor).toFixed(4)} (${impostor.length} pairs)`);
    say('  encoding  feature bytes | |score change|: max        mean | renormalised: max        mean');
    for (const a of accuracy) {
      say(`  ${a.encoding.padEnd(8)}${col(a.featureBytes, 15, 0)} |${col(a.maxAbsChange.toExponential(2), 23)}${col(a.meanAbsChange.toExponential(2), 12)} |` +
        `${col(a.maxAbsChangeRenormalised.toExponential(2), 18)}${col(a.meanAbsChangeRenormalised.toExponential(2), 12)}`);
    }
    say('  score = the engine\'s cosineSimilarity (dot product of the decoded features, as a terminal storing them would compute);');
    say('  renormalised = dot / (|a| |b|) of the decoded features');
    json.accuracy = {
      photos: photos.length, pairs: pairs.length, faceless,
      float32Scores: { genuine: { min: Math.min(...genuine), max: Math.max(...genuine), pairs: genuine.length }, impostor: { min: Math.min(...impostor), max: Math.max(...impostor), pairs: impostor.length } },
      encodings: accuracy,
    };

    // ---- 4. against the spec --------------------------------------------------

    const specGroup = groups.find((g) => g.size === SPEC_GROUP_FACES) ?? groups[0]!;
    say(`\nCompare with the spec (facepass-server-api.md, 底库同步, 返回参数): "${SPEC_QUOTE}"`);
    say(`  = about 4 KB (taken as ${int(SPEC_FEATURE_BYTES)} B) per feature, 8 MB (${int(SPEC_GROUP_BYTES)} B) for ${int(SPEC_GROUP_FACES)} faces, JSON too slow to parse`);
    say(`  this model: ${engine.featureLength}-d features; bytes per face measured on the ${int(specGroup.size)}-face full sync`);
    say('  encoding  feature B  wire B/face  /spec 4 KB  2,000 faces on the wire  /spec 8 MB');
    const specRows = FEATURE_ENCODINGS.map((encoding) => {
      const r = fullRows.find((x) => x.faces === specGroup.size && x.encoding === encoding)!;
      const featureBytes = encodedFeatureLength(engine.featureLength, encoding);
      const bytesPerFace = r.bytesPerFace!;
      const groupBytes = bytesPerFace * SPEC_GROUP_FACES;
      say(`  ${encoding.padEnd(8)}${col(featureBytes, 11, 0)}${col(bytesPerFace, 13, 1)}${col(bytesPerFace / SPEC_FEATURE_BYTES, 12, 3)}` +
        `${col(`${int(groupBytes)} B`, 25)}${col(groupBytes / SPEC_GROUP_BYTES, 12, 3)}`);
      return { encoding, featureBytes, bytesPerFace, overSpecFeature: bytesPerFace / SPEC_FEATURE_BYTES, bytesFor2000: groupBytes, overSpec2000: groupBytes / SPEC_GROUP_BYTES };
    });
    say(`  wire B/face - feature B = per-record overhead (24-character token, tags, lengths, frame share)`);
    say(`  the spec's 4 KB per feature is 1,024 float32 components (or 512 float64); float32 here is ${int(encodedFeatureLength(engine.featureLength, 'float32'))} B`);
    json.spec = { quote: SPEC_QUOTE, featureBytes: SPEC_FEATURE_BYTES, groupFaces: SPEC_GROUP_FACES, groupBytes: SPEC_GROUP_BYTES, measuredOn: specGroup.size, rows: specRows };
  }

  // ---- 3. push fan-out and storm (tools/bench-push.ts) -------------------

  json.push = await benchPush({
    server, deviceKey, group: pushGroup, faces: pool, clients: clientCount, changes: changeCount,
    stormRate, stormSeconds, order: pushOrder, say,
  });
} finally {
  agent.destroy();
  await server.close();
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const loadAtEnd = loadavg();
say(`\n  load average at end: ${loadAtEnd.map((x) => x.toFixed(2)).join(', ')}`);
if (asJson) {
  json.loadAtEnd = loadAtEnd;
  process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
}
