// A minimal typed event emitter. Unlike node:events it never throws when an
// 'error' has no listener (a long-running terminal must not crash because
// nobody subscribed), and a throwing listener cannot break the caller.

export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(event: never) => void>>();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => void set.delete(listener as (event: never) => void);
  }

  /** Calls each listener; returns the errors listeners threw, for the caller to report. */
  emit<K extends keyof Events>(type: K, event: Events[K]): unknown[] {
    const errors: unknown[] = [];
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        (listener as (event: Events[K]) => void)(event);
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }

  clear(): void {
    this.#listeners.clear();
  }
}
