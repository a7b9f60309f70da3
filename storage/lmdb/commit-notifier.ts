// Delivers committed changes to `onCommit` listeners in commit order.
//
// A write reserves a ticket as the last step of its transaction callback;
// lmdb-js runs queued callbacks one after another in the order they commit,
// so ticket order is commit order. The caller completes its ticket once the
// commit is durable (or abandons it if the commit failed); changes are handed
// out strictly in ticket order, so a write whose promise continuation happens
// to run first never overtakes an earlier commit.
import type { CommittedChange } from '../store.js';

export type CommitListener = (change: CommittedChange) => void;
export type ListenerErrorHandler = (error: unknown, change: CommittedChange) => void;

export class CommitNotifier {
  /** One object per subscription, so the same function may subscribe twice. */
  private readonly listeners = new Set<{ fn: CommitListener }>();
  /** Completed tickets not yet delivered: changes, or null when abandoned. */
  private readonly ready = new Map<number, CommittedChange[] | null>();
  private nextTicket = 0;
  private nextToDeliver = 0;
  private delivering = false;

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  subscribe(fn: CommitListener): () => void {
    const entry = { fn };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Called inside the transaction callback, after its last write. */
  reserve(): number {
    return this.nextTicket++;
  }

  complete(ticket: number, changes: CommittedChange[]): void {
    this.ready.set(ticket, changes);
    this.deliver();
  }

  abandon(ticket: number): void {
    this.ready.set(ticket, null);
    this.deliver();
  }

  private deliver(): void {
    // A listener that triggers another completion re-enters here; the outer
    // loop delivers it, which keeps the order.
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.ready.has(this.nextToDeliver)) {
        const changes = this.ready.get(this.nextToDeliver);
        this.ready.delete(this.nextToDeliver);
        this.nextToDeliver++;
        if (!changes) continue;
        for (const change of changes) {
          for (const listener of [...this.listeners]) {
            try {
              listener.fn(change);
            } catch (error) {
              this.reportListenerError(error, change);
            }
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  private reportListenerError(error: unknown, change: CommittedChange): void {
    try {
      this.onListenerError(error, change);
    } catch {
      // The error handler itself failed; nothing sensible is left to do, and
      // the store and the other listeners must keep working.
    }
  }
}
