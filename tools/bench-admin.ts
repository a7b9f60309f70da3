// npm run bench:admin [-- --ops N --concurrency 1,16,64 --groups N --faces N --adds N
//                        --rounds N --seconds S --slices N --threads N --client http|fetch --json]
// Admin-API throughput of a real server started in-process (127.0.0.1, port 0,
// temporary data dir, log level silent), measured over HTTP with keep-alive:
// 1. bind/unbind ops/s on one group and spread over --groups groups, at each
//    --concurrency level, next to the same ops on server.store directly (the
//    store baseline, same concurrency), so the HTTP overhead is a ratio.
// 2. face adds/s over HTTP (multipart PNG upload), sequential and with 2 and 4
//    in flight, with mean/p50/p95 latency.
// 3. the engine's own pipeline (decode + detect + quality + embed, called
//    directly, sequentially) on the same photos, and the ratio sequential
//    face-add latency / pipeline time: the cost of HTTP + multipart + storage.
// Baselines and their HTTP counterparts run back to back (pipeline and
// sequential add rounds alternate), so both see the same machine load.
// Note: client and server share one process and one event loop, so HTTP
// numbers include the client's own CPU time. The default client is node:http
// with a keep-alive Agent: in-process, global fetch (undici, --client fetch)
// costs about 1 ms more CPU per request and caps concurrent binds at a
// fraction of what the server does with a cheaper client.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FaceServer } from '../server/app.js';
import { BenchHttpClient } from './bench-http.js';
import { benchServerConfig, col, machineInfo, machineLines, mean, percentile, positive } from './bench-common.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../server/core/ids.js';
import { createOnnxEngine } from '../models/index.js';
import { syntheticFace } from '../test/helpers/synthetic-faces.js';
import { ENROLLABLE, enrollablePhoto } from '../test/helpers/photos.js';
import type { FaceStore } from '../storage/store.js';

const ADD_CONCURRENCY = [1, 2, 4];

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '1,16,64' },
    groups: { type: 'string', default: '100' },
    faces: { type: 'string', default: '256' },
    adds: { type: 'string', default: '24' },
    rounds: { type: 'string', default: '3' },
    // Time cap (s) for each of the store and HTTP sides of one bind run.
    seconds: { type: 'string', default: '30' },
    // Store and HTTP runs alternate in this many slices each.
    slices: { type: 'string', default: '4' },
    threads: { type: 'string', default: String(availableParallelism()) },
    // JSON calls through global fetch (undici) or node:http with a keep-alive Agent.
    client: { type: 'string', default: 'http' },
    json: { type: 'boolean', default: false },
  },
});
const opsTarget = positive('ops', values.ops);
const levels = (values.concurrency ?? '').split(',').map((s) => positive('concurrency', s.trim()));
const groupCount = positive('groups', values.groups);
const poolSize = positive('faces', values.faces);
const addCount = positive('adds', values.adds);
const rounds = positive('rounds', values.rounds);
const seconds = positive('seconds', values.seconds);
const slices = positive('slices', values.slices);
const threads = positive('threads', values.threads);
const client = values.client;
if (client !== 'http' && client !== 'fetch') throw new RangeError('--client must be "http" or "fetch"');
if (poolSize < Math.max(...levels)) throw new RangeError('--faces must be at least the largest --concurrency (each worker owns its faces)');

// ---- statistics and formatting ---------------------------------------------

interface RunResult {
  ops: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  opsPerSec: number;
  /** Process CPU (user + system, all threads: client, server, LMDB) per op, ms. */
  cpuMsPerOp: number;
  latency: { mean: number; p50: number; p95: number };
}

/** What one batch of worker loops recorded. */
interface Slice {
  latencies: number[];
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  /** Process CPU, user + system, microseconds. */
  cpuUs: number;
}

/**
 * Runs `workers` loops in parallel; worker w calls op(w, j) for j = 0, 1, ...
 * up to opsPerWorker, or until `deadline` (checked before even j, so
 * bind/unbind pairs stay whole). op resolves to an error message or null.
 */
async function runWorkers(
  workers: number,
  opsPerWorker: number,
  op: (w: number, j: number) => Promise<string | null>,
  deadline = Infinity,
): Promise<Slice> {
  const slice: Slice = { latencies: [], errors: 0, firstError: undefined, elapsedMs: 0, cpuUs: 0 };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let j = 0; j < opsPerWorker; j++) {
      if (j % 2 === 0 && performance.now() > deadline) return;
      const t = performance.now();
      const error = await op(w, j);
      slice.latencies.push(performance.now() - t);
      if (error !== null) {
        slice.errors++;
        slice.firstError ??= error;
      }
    }
  }));
  slice.elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  slice.cpuUs = cpu.user + cpu.system;
  return slice;
}

function summarize(slices: Slice[]): RunResult {
  const latencies = slices.flatMap((s) => s.latencies);
  const elapsedMs = slices.reduce((sum, s) => sum + s.elapsedMs, 0);
  const cpuUs = slices.reduce((sum, s) => sum + s.cpuUs, 0);
  return {
    ops: latencies.length,
    errors: slices.reduce((sum, s) => sum + s.errors, 0),
    firstError: slices.find((s) => s.firstError !== undefined)?.firstError,
    elapsedMs,
    opsPerSec: (latencies.length / elapsedMs) * 1000,
    cpuMsPerOp: cpuUs / 1000 / latencies.length,
    latency: { mean: mean(latencies), p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
  };
}

// ---- setup -----------------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), 'face-bench-admin-'));
const config = benchServerConfig(dataDir, { engineThreads: threads });
const adminKey = config.adminKey!;
const machine = machineInfo(dataDir);
for (const line of machineLines(machine)) console.log(line);
console.log(`  engine intra-op threads: ${threads}; HTTP client: ${client === 'http' ? 'node:http, keep-alive Agent' : 'fetch (undici)'}; time cap per bind run: ${seconds} s`);

const engine = await createOnnxEngine({ intraOpThreads: threads });
const server = await FaceServer.start({ config, engine });
const store: FaceStore = server.store;
const base = server.url;
const authHeader = { authorization: `Bearer ${adminKey}` };

interface Envelope { code: number; message: string; data: Record<string, unknown> }

const http = new BenchHttpClient(base, authHeader);

async function postJson(path: string, body: unknown): Promise<Envelope> {
  if (client === 'http') return http.postJson<Envelope>(path, body);
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { ...authHeader, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Envelope;
}

async function addFace(png: Uint8Array): Promise<Envelope> {
  if (client === 'http') return http.postImage<Envelope>('/api/face/v1/add', png);
  const form = new FormData();
  form.append('image', new Blob([png], { type: 'image/png' }), 'face.png');
  const res = await fetch(base + '/api/face/v1/add', { method: 'POST', headers: authHeader, body: form });
  return (await res.json()) as Envelope;
}

const errorOf = (env: Envelope) => (env.code === 0 ? null : `${env.code} ${env.message}`);
const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

const json: Record<string, unknown> = {
  machine: { ...machine, threads, client },
};

try {
  // ---- 1 + 4: bind/unbind over HTTP vs the store ---------------------------

  // Synthetic faces (random features), written straight into the store.
  const faces: FaceToken[] = [];
  const SETUP_BATCH = 64;
  for (let i = 0; i < poolSize; i += SETUP_BATCH) {
    const batch = Array.from({ length: Math.min(SETUP_BATCH, poolSize - i) }, () => syntheticFace(engine.searchModel));
    await Promise.all(batch.map((face) => store.addImage(
      { imageId: face.imageId, mime: 'image/png', bytes: randomBytes(16), width: 200, height: 200, createdAt: Date.now() },
      face,
    )));
    for (const face of batch) faces.push(face.faceToken);
  }

  let groupSerial = 0;
  let createMs = 0;
  let created = 0;
  /** Fresh groups for every run (created over HTTP, 16 at a time), so no run inherits another's history. */
  async function createGroups(count: number): Promise<GroupName[]> {
    const names = Array.from({ length: count }, () => `bench_${(groupSerial++).toString().padStart(5, '0')}` as GroupName);
    const t = performance.now();
    for (let i = 0; i < names.length; i += 16) {
      const results = await Promise.all(names.slice(i, i + 16).map((group_name) => postJson('/api/group/v1/create', { group_name })));
      for (const r of results) if (r.code !== 0) throw new Error(`group create failed: ${r.code} ${r.message}`);
    }
    createMs += performance.now() - t;
    created += count;
    return names;
  }

  /**
   * Worker w of `workers` owns faces w, w+workers, ...; its op j is a bind
   * (even j) or the unbind of that bind (odd j) of its pair j>>1, whose face
   * cycles through the owned ones and whose group cycles through `groups`
   * (offset per worker). Every op is an effective change, never a no-op or
   * an error.
   */
  function pairTarget(groups: GroupName[], workers: number, w: number, j: number): [GroupName, FaceToken] {
    const pair = j >> 1;
    const owned = Math.floor(faces.length / workers);
    const face = faces[w + workers * (pair % owned)]!;
    const group = groups[(w + pair * workers) % groups.length]!;
    return [group, face];
  }

  const viaHttp = (groups: GroupName[], workers: number) => async (w: number, j: number) => {
    const [group_name, face_token] = pairTarget(groups, workers, w, j);
    try {
      return errorOf(await postJson(`/api/group/v1/${j % 2 === 0 ? 'bind' : 'unbind'}`, { group_name, face_token }));
    } catch (err) {
      return errorText(err);
    }
  };
  const viaStore = (groups: GroupName[], workers: number) => async (w: number, j: number) => {
    const [group, token] = pairTarget(groups, workers, w, j);
    try {
      if (j % 2 === 0) {
        if ((await store.bind(DEFAULT_LIBRARY, group, token)) === null) return 'bind was a no-op';
      } else {
        await store.unbind(DEFAULT_LIBRARY, group, token);
      }
      return null;
    } catch (err) {
      return errorText(err);
    }
  };

  // Warm-up (not counted): JIT, and as many keep-alive connections as the widest run needs.
  {
    const widest = Math.max(...levels);
    const warm = await createGroups(1);
    await runWorkers(widest, 4, viaHttp(warm, widest));
    await runWorkers(widest, 4, viaStore(warm, widest));
  }

  interface BindRow { topology: string; concurrency: number; planned: number; store: RunResult; http: RunResult }
  const bindRows: BindRow[] = [];
  for (const [topology, count] of [['1 group', 1], [`${groupCount} groups`, groupCount]] as const) {
    for (const concurrency of levels) {
      // Whole pairs per worker and slice, so every bind is followed by its unbind
      // and each slice ends with the groups empty again.
      const perWorker = 2 * Math.ceil(opsTarget / (2 * concurrency * slices));
      const storeGroups = await createGroups(count);
      const httpGroups = await createGroups(count);
      const storeSlices: Slice[] = [];
      const httpSlices: Slice[] = [];
      // Each side's slices together get at most `seconds`.
      const deadline = (done: Slice[]) => performance.now() + seconds * 1000 - done.reduce((sum, x) => sum + x.elapsedMs, 0);
      // Store and HTTP slices alternate, so both see the same machine load.
      for (let i = 0; i < slices; i++) {
        storeSlices.push(await runWorkers(concurrency, perWorker, viaStore(storeGroups, concurrency), deadline(storeSlices)));
        httpSlices.push(await runWorkers(concurrency, perWorker, viaHttp(httpGroups, concurrency), deadline(httpSlices)));
      }
      bindRows.push({ topology, concurrency, planned: perWorker * concurrency * slices, store: summarize(storeSlices), http: summarize(httpSlices) });
    }
  }

  console.log(`\nBind/unbind (alternating; ~${opsTarget} ops per run over ${faces.length} synthetic faces; fresh groups per run;`);
  console.log(`  store and HTTP alternate in ${slices} slices each)`);
  console.log('  topology    conc |  store ops/s  p50 ms  p95 ms  cpu/op |  HTTP ops   ops/s  mean ms  p50 ms  p95 ms  cpu/op  err | HTTP/store');
  for (const r of bindRows) {
    console.log(
      `  ${r.topology.padEnd(10)}${col(r.concurrency, 6, 0)} |${col(r.store.opsPerSec, 13, 0)}${col(r.store.latency.p50, 8)}${col(r.store.latency.p95, 8)}${col(r.store.cpuMsPerOp, 8)} |` +
      `${col(r.http.ops, 10, 0)}${col(r.http.opsPerSec, 8, 0)}${col(r.http.latency.mean, 9)}${col(r.http.latency.p50, 8)}${col(r.http.latency.p95, 8)}${col(r.http.cpuMsPerOp, 8)}${col(r.http.errors + r.store.errors, 5, 0)} |` +
      `${col(r.store.opsPerSec / r.http.opsPerSec, 10)}x`,
    );
  }
  for (const r of bindRows) {
    for (const [kind, run] of [['store', r.store], ['HTTP', r.http]] as const) {
      if (run.errors > 0) console.log(`  ! ${r.topology} conc ${r.concurrency} ${kind}: ${run.errors} errors, first: ${run.firstError}`);
      if (run.ops < r.planned) {
        console.log(`  ! ${r.topology} conc ${r.concurrency} ${kind}: stopped by the ${seconds} s cap after ${run.ops} ops`);
      }
    }
  }
  console.log('  HTTP/store = store ops/s / HTTP ops/s (HTTP time per op over store time per op, same concurrency);');
  console.log('  cpu/op = process CPU ms per op (user + system, all threads; HTTP includes the in-process client)');
  console.log(`  (setup: ${created} groups created over HTTP, ${(created / createMs * 1000).toFixed(0)} creates/s at 16 in flight)`);
  json.binds = bindRows;

  // ---- 2 + 3: face add over HTTP vs the engine pipeline --------------------

  const photos = await Promise.all(ENROLLABLE.map(([person, n]) => enrollablePhoto(person, n)));
  const photoKiB = mean(photos.map((p) => p.length)) / 1024;

  const stages = { decode: [] as number[], detect: [] as number[], quality: [] as number[], embed: [] as number[] };
  const pipelineMs: number[] = [];
  async function pipeline(bytes: Uint8Array, record: boolean): Promise<void> {
    const t0 = performance.now();
    const image = await engine.decode(bytes, config.faceAddImage);
    const t1 = performance.now();
    const [face] = await engine.detect(image);
    if (!face) throw new Error('no face in a benchmark photo');
    const t2 = performance.now();
    await engine.quality(image, face);
    const t3 = performance.now();
    await engine.embed(image, face);
    const t4 = performance.now();
    if (!record) return;
    stages.decode.push(t1 - t0);
    stages.detect.push(t2 - t1);
    stages.quality.push(t3 - t2);
    stages.embed.push(t4 - t3);
    pipelineMs.push(t4 - t0);
  }

  let addErrors = 0;
  let firstAddError: string | undefined;
  async function timedAdd(bytes: Uint8Array): Promise<number> {
    const t = performance.now();
    let error: string | null;
    try {
      error = errorOf(await addFace(bytes));
    } catch (err) {
      error = errorText(err);
    }
    const ms = performance.now() - t;
    if (error !== null) {
      addErrors++;
      firstAddError ??= error;
    }
    return ms;
  }

  // Warm-up (not counted): one pass of each.
  for (const p of photos) await pipeline(p, false);
  for (const p of photos) await timedAdd(p);
  addErrors = 0;

  // Sequential: pipeline and HTTP add passes alternate over the same photos.
  const seqAddMs: number[] = [];
  let seqAddWall = 0;
  for (let round = 0; round < rounds; round++) {
    for (const p of photos) await pipeline(p, true);
    const t = performance.now();
    for (const p of photos) seqAddMs.push(await timedAdd(p));
    seqAddWall += performance.now() - t;
  }

  interface AddRow { concurrency: number; adds: number; elapsedMs: number; addsPerSec: number; mean: number; p50: number; p95: number }
  const addRows: AddRow[] = [{
    concurrency: 1, adds: seqAddMs.length, elapsedMs: seqAddWall, addsPerSec: (seqAddMs.length / seqAddWall) * 1000,
    mean: mean(seqAddMs), p50: percentile(seqAddMs, 50), p95: percentile(seqAddMs, 95),
  }];
  for (const concurrency of ADD_CONCURRENCY.filter((c) => c > 1)) {
    const latencies: number[] = [];
    let next = 0;
    const t = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < addCount; i = next++) latencies.push(await timedAdd(photos[i % photos.length]!));
    }));
    const elapsedMs = performance.now() - t;
    addRows.push({
      concurrency, adds: latencies.length, elapsedMs, addsPerSec: (latencies.length / elapsedMs) * 1000,
      mean: mean(latencies), p50: percentile(latencies, 50), p95: percentile(latencies, 95),
    });
  }

  console.log(`\nFace add over HTTP (multipart PNG, 700x700, mean ${photoKiB.toFixed(0)} KiB; ${photos.length} photos)`);
  console.log('  conc   adds    adds/s   mean ms   p50 ms   p95 ms');
  for (const r of addRows) {
    console.log(`  ${col(r.concurrency, 4, 0)}${col(r.adds, 7, 0)}${col(r.addsPerSec, 10)}${col(r.mean, 10)}${col(r.p50, 9)}${col(r.p95, 9)}`);
  }
  if (addErrors > 0) console.log(`  ! ${addErrors} face adds failed, first: ${firstAddError}`);

  const pipeMean = mean(pipelineMs);
  const pipeP50 = percentile(pipelineMs, 50);
  console.log(`\nEngine pipeline, called directly and sequentially on the same photos (${pipelineMs.length} runs, ms per photo)`);
  console.log('  stage        mean    p50    p95');
  for (const [stage, xs] of Object.entries(stages)) {
    console.log(`  ${stage.padEnd(9)}${col(mean(xs), 8)}${col(percentile(xs, 50), 7)}${col(percentile(xs, 95), 7)}`);
  }
  console.log(`  ${'total'.padEnd(9)}${col(pipeMean, 8)}${col(pipeP50, 7)}${col(percentile(pipelineMs, 95), 7)}`);
  const seq = addRows[0]!;
  console.log(`\n  sequential face add / engine pipeline: ${(seq.mean / pipeMean).toFixed(3)} (mean), ${(seq.p50 / pipeP50).toFixed(3)} (p50)`);
  console.log(`  HTTP + multipart + storage per add: ${(seq.mean - pipeMean).toFixed(2)} ms (mean), ${(seq.p50 - pipeP50).toFixed(2)} ms (p50)`);
  json.adds = addRows;
  json.pipeline = { mean: pipeMean, p50: pipeP50, stages: Object.fromEntries(Object.entries(stages).map(([k, xs]) => [k, mean(xs)])) };
  json.addOverPipeline = { mean: seq.mean / pipeMean, p50: seq.p50 / pipeP50 };
} finally {
  http.close();
  await server.close();
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const loadAtEnd = loadavg();
console.log(`\n  load average at end: ${loadAtEnd.map((x) => x.toFixed(2)).join(', ')}`);
if (values.json) {
  json.loadAtEnd = loadAtEnd;
  console.log(JSON.stringify(json, null, 2));
}
