// One face engine per worker thread (a piscina worker, see pool-engine.ts).
// The ONNX sessions are loaded once, when the worker starts; every task is a
// call of one FaceEngine method, and errors come back as plain data because
// a FaceError's code and details do not survive structured cloning.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { threadId as workerThreadId, workerData } from 'node:worker_threads';
import { isFaceError } from './errors.js';
import { createOnnxEngine, type OnnxEngineOptions, type OnnxFaceEngine } from './onnx-engine.js';
import type { AnalyzeRequest, Cancellation, DecodeLimits, DecodedImage, DetectedFace } from './engine.js';

export type EngineTask =
  | { op: 'info' }
  | { op: 'analyze'; bytes: Uint8Array; request: Omit<AnalyzeRequest, 'signal'>; abort?: Int32Array }
  | { op: 'decode'; bytes: Uint8Array; limits: DecodeLimits }
  | { op: 'detect'; image: DecodedImage; abort?: Int32Array }
  | { op: 'quality' | 'embed' | 'liveness' | 'attributes'; image: DecodedImage; face: DetectedFace };

/**
 * This worker's JS memory as process.memoryUsage() sees it inside the
 * thread (its own V8 isolate), in bytes. Native memory of the thread's
 * libraries (ONNX arenas, libvips) is in none of these: only in the
 * process's RSS.
 */
export interface WorkerMemory {
  /** The worker's threadId (node:worker_threads), to keep one sample per worker. */
  worker: number;
  heapUsed: number;
  heapTotal: number;
  /** Memory of C++ objects bound to this isolate's JS objects (includes arrayBuffers). */
  external: number;
  arrayBuffers: number;
}

/** What a task resolves with: its value, or the FaceError it threw as data; with the worker's memory after the task. */
export type EngineReply = (
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; code?: string; message: string; details?: Record<string, unknown> } }
) & { memory?: WorkerMemory };

export interface EngineInfo {
  searchModel: string;
  modelVersions: Record<string, string>;
  featureLength: number;
  /** The niceness this worker's thread runs at, or null where it cannot be told (not Linux). */
  nice: number | null;
}

export interface EngineWorkerData {
  engine: OnnxEngineOptions;
  /** Niceness to give this thread before the sessions open (0 = leave it). */
  nice: number;
}

/**
 * This thread's kernel id (Linux: /proc/thread-self -> "PID/task/TID"), or
 * undefined elsewhere. Nice values are per thread on Linux, so
 * os.setPriority(tid) changes this thread only, and the threads it starts
 * afterwards (ORT's intra-op pool) inherit the value.
 */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** Lowers this thread's priority to `nice` (never raises it); quietly leaves it where that is not possible. Returns the niceness now, or null. */
function lowerPriority(nice: number): number | null {
  const tid = threadId();
  if (tid === undefined) return null;
  try {
    if (nice > getPriority(tid)) setPriority(tid, nice);
  } catch { /* not permitted here: keep the inherited priority */ }
  try {
    return getPriority(tid);
  } catch {
    return null;
  }
}

const data = workerData as Partial<EngineWorkerData> | undefined;
const options = data?.engine ?? {};
// Before the sessions are created: ORT starts its intra-op threads then.
const nice = lowerPriority(data?.nice ?? 0);
// A start failure (a model file missing or altered) is answered to every
// task, so the pool's start reports it with its file name.
let engine: OnnxFaceEngine | undefined;
let startError: unknown;
try {
  engine = await createOnnxEngine(options);
} catch (err) {
  startError = err;
}

/** The abort flag the main thread sets when the caller's signal fires. */
const cancellation = (flag: Int32Array | undefined): Cancellation | undefined =>
  flag ? { get aborted() { return Atomics.load(flag, 0) !== 0; } } : undefined;

async function run(task: EngineTask): Promise<unknown> {
  if (!engine) throw startError;
  switch (task.op) {
    case 'info':
      return { searchModel: engine.searchModel, modelVersions: { ...engine.modelVersions }, featureLength: engine.featureLength, nice } satisfies EngineInfo;
    case 'analyze':
      return engine.analyze(task.bytes, { ...task.request, signal: cancellation(task.abort) });
    case 'decode':
      return engine.decode(task.bytes, task.limits);
    case 'detect':
      return engine.detect(task.image, { signal: cancellation(task.abort) });
    case 'quality':
      return engine.quality(task.image, task.face);
    case 'embed':
      return engine.embed(task.image, task.face);
    case 'liveness':
      return engine.liveness(task.image, task.face);
    case 'attributes':
      return engine.attributes(task.image, task.face);
  }
}

/**
 * Sampled with every reply, so the pool knows each worker's memory without
 * a way to address one worker (piscina hands a task to any idle one).
 * process.memoryUsage() costs tens of microseconds (it reads /proc for the
 * RSS), nothing beside a photo's analysis (tens of milliseconds).
 */
function memory(): WorkerMemory {
  const m = process.memoryUsage();
  return { worker: workerThreadId, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

async function reply(task: EngineTask): Promise<EngineReply> {
  try {
    return { ok: true, value: await run(task) };
  } catch (err) {
    if (isFaceError(err)) return { ok: false, error: { name: err.name, code: err.code, message: err.message, details: err.details } };
    const e = err as Error & { file?: string };
    return { ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), details: e?.file ? { file: e.file } : undefined } };
  }
}

export default async function engineTask(task: EngineTask): Promise<EngineReply> {
  const answer = await reply(task);
  answer.memory = memory();
  return answer;
}
