// One ONNX InferenceSession with its calls serialised. Concurrent requests
// would otherwise run the same session in parallel, each with its own
// intra-op threads, oversubscribing the cores and making every call slower;
// a queue keeps each model at one call at a time and the latency predictable.
import * as ort from 'onnxruntime-node';

export interface SessionStats {
  runs: number;
  /** Total wall time inside session.run, milliseconds. */
  ms: number;
}

export interface SessionOptions {
  intraOpThreads: number;
  /** Treat denormal floats as zero (default true). */
  flushDenormals?: boolean;
}

export function ortSessionOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    // 3 = error: the exported graphs trigger harmless initializer warnings.
    logSeverityLevel: 3,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
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
    return new SessionQueue(name, await ort.InferenceSession.create(path, ortSessionOptions(options)));
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
