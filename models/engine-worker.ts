// One face engine per worker thread (a piscina worker, see pool-engine.ts).
// The ONNX sessions are loaded once, when the worker starts; every task is a
// call of one FaceEngine method, and errors come back as plain data because
// a FaceError's code and details do not survive structured cloning.
import { workerData } from 'node:worker_threads';
import { isFaceError } from './errors.js';
import { createOnnxEngine, type OnnxEngineOptions, type OnnxFaceEngine } from './onnx-engine.js';
import type { AnalyzeRequest, Cancellation, DecodeLimits, DecodedImage, DetectedFace } from './engine.js';

export type EngineTask =
  | { op: 'info' }
  | { op: 'analyze'; bytes: Uint8Array; request: Omit<AnalyzeRequest, 'signal'>; abort?: Int32Array }
  | { op: 'decode'; bytes: Uint8Array; limits: DecodeLimits }
  | { op: 'detect'; image: DecodedImage; abort?: Int32Array }
  | { op: 'quality' | 'embed' | 'liveness' | 'attributes'; image: DecodedImage; face: DetectedFace };

/** What a task resolves with: its value, or the FaceError it threw as data. */
export type EngineReply =
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; code?: string; message: string; details?: Record<string, unknown> } };

export interface EngineInfo {
  searchModel: string;
  modelVersions: Record<string, string>;
  featureLength: number;
}

const options = (workerData as { engine: OnnxEngineOptions } | undefined)?.engine ?? {};
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
      return { searchModel: engine.searchModel, modelVersions: { ...engine.modelVersions }, featureLength: engine.featureLength } satisfies EngineInfo;
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

export default async function engineTask(task: EngineTask): Promise<EngineReply> {
  try {
    return { ok: true, value: await run(task) };
  } catch (err) {
    if (isFaceError(err)) return { ok: false, error: { name: err.name, code: err.code, message: err.message, details: err.details } };
    const e = err as Error & { file?: string };
    return { ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), details: e?.file ? { file: e.file } : undefined } };
  }
}
