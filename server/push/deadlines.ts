// Hello deadlines without a timer per connection. Every member gets the same
// timeout, so deadlines grow in insertion order: a Map (which iterates in
// insertion order) is a queue whose front is always the earliest deadline,
// and a single timer armed for the front is enough.

export class DeadlineQueue<C> {
  readonly #deadlines = new Map<C, number>();
  readonly #timeoutMs: number;
  readonly #onExpire: (member: C) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;

  constructor(timeoutMs: number, onExpire: (member: C) => void, now: () => number = Date.now) {
    this.#timeoutMs = timeoutMs;
    this.#onExpire = onExpire;
    this.#now = now;
  }

  add(member: C): void {
    this.#deadlines.set(member, this.#now() + this.#timeoutMs);
    this.#arm();
  }

  /** Met its deadline (or gone). The timer stays armed; it re-arms for the next front when it fires. */
  remove(member: C): void {
    this.#deadlines.delete(member);
  }

  get size(): number {
    return this.#deadlines.size;
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#deadlines.clear();
  }

  #arm(): void {
    if (this.#timer) return;
    const first = this.#deadlines.values().next();
    if (first.done) return;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, first.value - this.#now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = null;
    const now = this.#now();
    for (const [member, deadline] of this.#deadlines) {
      if (deadline > now) break;
      this.#deadlines.delete(member);
      try {
        this.#onExpire(member);
      } catch {
        // The callback closes a socket; a failure there must not stop the sweep.
      }
    }
    this.#arm();
  }
}
