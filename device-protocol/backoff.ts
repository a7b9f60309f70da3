// Reconnect and retry delays: exponential, capped, with jitter so that a
// fleet of terminals cut off by the same outage does not reconnect in step.
//
//   base(n)  = min(maxMs, initialMs * 2^n)           n = failures so far
//   delay(n) = base(n) * (1 - jitter * random())     random() in [0, 1)
//
// so each delay lies in (base * (1 - jitter), base].

export interface BackoffOptions {
  /** First delay, in ms (default 500). */
  initialMs?: number;
  /** Largest delay, in ms (default 30 000). */
  maxMs?: number;
  /** Fraction of each delay that is randomised, 0..1 (default 0.5). */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>> = { initialMs: 500, maxMs: 30_000, jitter: 0.5 };

export class Backoff {
  readonly #options: Required<BackoffOptions>;
  readonly #random: () => number;
  #failures = 0;

  /** `random` is injectable so a test can pin the schedule. */
  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#options = { ...DEFAULT_BACKOFF, ...options };
    const { initialMs, maxMs, jitter } = this.#options;
    if (!(initialMs > 0) || !(maxMs >= initialMs) || !(jitter >= 0 && jitter <= 1)) {
      throw new RangeError(`invalid backoff: initialMs ${initialMs}, maxMs ${maxMs}, jitter ${jitter}`);
    }
    this.#random = random;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const { initialMs, maxMs } = this.#options;
    const base = Math.min(maxMs, initialMs * 2 ** this.#failures);
    this.#failures++;
    return this.#jittered(base);
  }

  /** The longest delay, jittered: for failures that retrying soon cannot fix. */
  slow(): number {
    this.#failures++;
    return this.#jittered(this.#options.maxMs);
  }

  reset(): void {
    this.#failures = 0;
  }

  #jittered(base: number): number {
    return Math.round(base * (1 - this.#options.jitter * this.#random()));
  }
}
