// One ONNX InferenceSession with its calls serialised. Concurrent requests
// would otherwise run the same session in parallel, each with its own
// intra-op threads, oversubscribing the cores and making every call slower;
// a queue keeps each model at one call at a time and the latency predictable.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { threadFlushesDenormals } from './denormal-mode.js';
import { flushDenormalWeights } from './onnx-denormals.js';

export interface SessionStats {
  runs: number;
  /** Total wall time inside session.run, milliseconds. */
  ms: number;
}

export interface SessionOptions {
  intraOpThreads: number;
  /** Treat denormal floats as zero (default true): denormal weights are zeroed at load, ORT's threads flush the rest. */
  flushDenormals?: boolean;
  /**
   * Run the graph on a thread of the session's own (inter-op) pool instead of
   * the caller's. ORT sets FTZ/DAZ on its pool threads for every session but
   * on the calling thread only for the first session of the process (see
   * onnx-denormals.ts), so this is what flushes the denormal activations of
   * a model in any engine worker. Costs a hand-off to that thread (measured
   * on bare sessions with FTZ on both sides: +0.3-1.4 ms on fr_feature's
   * 9-18 ms, +0.7-2.5 ms on fr_detect's 3), so only for models whose
   * activations go denormal, and open() leaves the graph on a calling thread
   * that flushes already. Ignored when flushDenormals is false.
   */
  ownThread?: boolean;
}

export function ortSessionOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  const ownThread = options.ownThread === true && options.flushDenormals !== false;
  return {
    // 3 = error: the exported graphs trigger harmless initializer warnings.
    logSeverityLevel: 3,
    graphOptimizationLevel: 'all',
    // 'parallel' with an inter-op pool of two (one thread besides the
    // caller, which then only waits) puts every node on that pool thread.
    executionMode: ownThread ? 'parallel' : 'sequential',
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: ownThread ? 2 : 1,
    extra: {
      session: {
        // Idle intra-op threads otherwise spin-wait after each run; with one
        // pool per session, the spinning threads of the model that just ran
        // steal the cores from the next model (measured: feature 50 -> 120 ms).
        intra_op: { allow_spinning: '0' },
        inter_op: { allow_spinning: '0' },
        // Several of these models compute with denormal floats, which take a
        // slow microcode path on x86: flushing them to zero makes fr_feature
        // ~5x and fr_gender ~40x faster; on the people/ photos the features keep a cosine
        // > 0.9999999 to the unflushed ones and the other outputs are equal.
        set_denormal_as_zero: options.flushDenormals === false ? '0' : '1',
      },
    },
  };
}

export class SessionQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly totals: SessionStats = { runs: 0, ms: 0 };

  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
  ) {}

  static async open(name: string, path: string, options: SessionOptions): Promise<SessionQueue> {
    const model = await readFile(path);
    if (options.flushDenormals !== false) flushDenormalWeights(model);
    // On a thread that flushes already (the one that created the process's
    // first session), the graph runs faster where it is, without the hand-off.
    const ownThread = options.ownThread === true && !threadFlushesDenormals();
    return new SessionQueue(name, await ort.InferenceSession.create(model, ortSessionOptions({ ...options, ownThread })));
  }

  get stats(): Readonly<SessionStats> {
    return { ...this.totals };
  }

  resetStats(): void {
    this.totals.runs = 0;
    this.totals.ms = 0;
  }

  /** Runs the model on one float32 input after all earlier calls finished. */
  run(input: Float32Array, dims: readonly number[]): Promise<ort.InferenceSession.ReturnType> {
    if (this.closed) return Promise.reject(new Error(`model ${this.name}: engine is closed`));
    // Calls already queued when close() starts still run; close waits for them.
    const result = this.tail.then(async () => {
      const started = performance.now();
      try {
        return await this.session.run({ [this.session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
      } finally {
        this.totals.runs++;
        this.totals.ms += performance.now() - started;
      }
    });
    // A failed call must not poison the calls queued behind it.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Waits for queued calls, then releases the native session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.session.release();
  }
}
