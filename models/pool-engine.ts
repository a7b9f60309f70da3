// The FaceEngine in a pool of worker threads (piscina), so that decoding and
// inference never run on the server's event loop: HTTP, push and sync stay
// responsive while photos are analysed. Each worker holds its own ONNX
// sessions (engine-worker.ts), loaded once at start.
//
// - analyze() is the call to use: one task per photo, the photo's bytes
//   copied in once (or moved, with `transfer`), measured faces out. The fine-grained methods work too,
//   but each copies its decoded image into a worker (for callers that need
//   one step at a time).
// - Back-pressure: at most `maxQueue` tasks wait for a worker; beyond that
//   a call fails at once with FaceError BUSY (the dialects answer "busy"),
//   never a growing backlog.
// - Cancellation: a caller's AbortSignal sets a shared flag that the worker's
//   engine checks between model runs (FaceError ABORTED). Piscina's own
//   abort would terminate a running worker and its loaded models.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ErrorCode, FaceError } from './errors.js';
import { ModelIntegrityError } from './manifest.js';
import type { OnnxEngineOptions } from './onnx-engine.js';
import type {
  AnalyzeRequest, Cancellation, DecodeLimits, DecodedImage, DetectedFace, DetectOptionsPerCall, FaceAttributes, FaceEngine, FaceQuality, ImageAnalysis,
} from './engine.js';
import type { EngineInfo, EngineReply, EngineTask, EngineWorkerData, WorkerMemory } from './engine-worker.js';

export type { WorkerMemory } from './engine-worker.js';

export interface PooledEngineOptions extends OnnxEngineOptions {
  /** Worker threads, each with its own sessions; default os.availableParallelism(). */
  workers?: number;
  /** Tasks that may wait for a free worker before calls fail with BUSY; default 8 per worker. */
  maxQueue?: number;
  /**
   * Niceness (0-19) each worker gives its own thread before it opens the
   * ONNX sessions, so the intra-op threads ORT starts inherit it; default 0
   * (unchanged). Lower priority than the event loop keeps the server's
   * requests prompt while every core analyses photos. Linux only (nice is
   * per thread there); elsewhere, or where refused, the worker keeps its
   * priority and says so in its info.
   */
  nice?: number;
}

export interface PoolStats {
  workers: number;
  /** Tasks running now. */
  running: number;
  /** Tasks waiting for a worker. */
  queued: number;
  maxQueue: number;
  completed: number;
  /** Calls refused with BUSY since start. */
  refused: number;
  /** Niceness of the worker threads: the smallest any of them runs at (the least lowered), null where it cannot be told. */
  nice: number | null;
}

export interface PooledFaceEngine extends FaceEngine {
  stats(): PoolStats;
  /**
   * Each worker's JS memory (heap, external, array buffers) as it was after
   * the last task that worker ran, one entry per worker that ran one
   * (each has run at least its start-up task unless another worker took
   * two), ordered by worker.
   */
  workerMemory(): WorkerMemory[];
}

function fromReply<T>(reply: EngineReply): T {
  if (reply.ok) return reply.value as T;
  const { name, code, message, details } = reply.error;
  if (code) throw new FaceError(code as ErrorCode, message, details ?? {});
  if (name === 'ModelIntegrityError') throw new ModelIntegrityError(message, String((details as { file?: string } | undefined)?.file ?? ''));
  throw new FaceError(ErrorCode.Internal, `face engine worker: ${message}`);
}

class PooledEngine implements PooledFaceEngine {
  private closed = false;
  private refused = 0;
  private inFlight = 0;
  /** The latest memory sample of each worker, by threadId (bounded: one per worker). */
  private readonly memory = new Map<number, WorkerMemory>();

  constructor(
    private readonly pool: Piscina,
    private readonly workers: number,
    private readonly maxQueue: number,
    readonly searchModel: string,
    readonly modelVersions: Readonly<Record<string, string>>,
    readonly featureLength: number,
    private readonly nice: number | null,
    startReplies: readonly EngineReply[],
  ) {
    for (const r of startReplies) this.remember(r);
  }

  private remember(reply: EngineReply): EngineReply {
    if (reply.memory) this.memory.set(reply.memory.worker, reply.memory);
    return reply;
  }

  private async call<T>(task: EngineTask, signal?: Cancellation, transferList?: ArrayBuffer[]): Promise<T> {
    if (this.closed) throw new FaceError(ErrorCode.Internal, 'face engine is closed');
    if (signal?.aborted) throw new FaceError(ErrorCode.Aborted, 'face analysis was abandoned', {}, { cause: signal.reason });
    if (this.pool.queueSize >= this.maxQueue) {
      this.refused++;
      throw new FaceError(ErrorCode.Busy, `face engine busy: ${this.pool.queueSize} photos waiting`);
    }
    let unhook = () => {};
    if (signal && 'addEventListener' in signal && 'abort' in task) {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      (task as { abort?: Int32Array }).abort = flag;
      const target = signal as AbortSignal;
      const onAbort = () => Atomics.store(flag, 0, 1);
      target.addEventListener('abort', onAbort, { once: true });
      unhook = () => target.removeEventListener('abort', onAbort);
    }
    this.inFlight++;
    try {
      return fromReply<T>(this.remember(await this.pool.run(task, transferList ? { transferList } : {})));
    } finally {
      this.inFlight--;
      unhook();
    }
  }

  analyze(bytes: Uint8Array, request: AnalyzeRequest): Promise<ImageAnalysis> {
    const { signal, transfer, ...rest } = request;
    // Moved only when the array is the whole of a buffer of its own: a
    // Buffer from Node's shared pool (small uploads) shares it with others.
    const movable = transfer === true && bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    return this.call({ op: 'analyze', bytes, request: rest, abort: undefined }, signal, movable ? [bytes.buffer as ArrayBuffer] : undefined);
  }

  decode(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
    return this.call({ op: 'decode', bytes, limits });
  }

  detect(image: DecodedImage, options: DetectOptionsPerCall = {}): Promise<DetectedFace[]> {
    return this.call({ op: 'detect', image, abort: undefined }, options.signal);
  }

  quality(image: DecodedImage, face: DetectedFace): Promise<FaceQuality> {
    return this.call({ op: 'quality', image, face });
  }

  embed(image: DecodedImage, face: DetectedFace): Promise<Float32Array> {
    return this.call({ op: 'embed', image, face });
  }

  liveness(image: DecodedImage, face: DetectedFace): Promise<number> {
    return this.call({ op: 'liveness', image, face });
  }

  attributes(image: DecodedImage, face: DetectedFace): Promise<FaceAttributes> {
    return this.call({ op: 'attributes', image, face });
  }

  stats(): PoolStats {
    return {
      workers: this.workers,
      running: Math.min(this.workers, this.inFlight),
      queued: this.pool.queueSize,
      maxQueue: this.maxQueue,
      completed: this.pool.completed,
      refused: this.refused,
      nice: this.nice,
    };
  }

  workerMemory(): WorkerMemory[] {
    return [...this.memory.values()].sort((a, b) => a.worker - b.worker);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}

/**
 * Starts `workers` worker threads, each loading and checking the models
 * (ModelIntegrityError if a file is missing or altered), and resolves once
 * all of them are ready.
 */
export async function createPooledEngine(options: PooledEngineOptions = {}): Promise<PooledFaceEngine> {
  const workers = options.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  const maxQueue = options.maxQueue ?? 8 * workers;
  const nice = options.nice ?? 0;
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`nice must be an integer in [0, 19], got ${nice}`);
  const { workers: _w, maxQueue: _q, nice: _n, ...engine } = options;
  const pool = new Piscina({
    filename: new URL('./engine-worker.mjs', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { engine, nice } satisfies EngineWorkerData,
  });
  try {
    // One task per worker: each resolves once its worker has loaded the models.
    const replies: EngineReply[] = await Promise.all(Array.from({ length: workers }, () => pool.run({ op: 'info' } satisfies EngineTask)));
    const infos = replies.map((r) => fromReply<EngineInfo>(r));
    const info = infos[0]!;
    const nices = infos.map((i) => i.nice).filter((n): n is number => n !== null);
    return new PooledEngine(pool, workers, maxQueue, info.searchModel, Object.freeze(info.modelVersions), info.featureLength, nices.length ? Math.min(...nices) : null, replies);
  } catch (err) {
    await pool.close({ force: true });
    throw err;
  }
}
