// Coalescing of version notices. A commit does not send anything itself: it
// records "group G is now at version V" in the pending notice of each
// connection holding G, and one hub-wide timer flushes all pending notices
// `delayMs` after the first change of a burst. Changes arriving meanwhile
// overwrite the entry of their group, so a connection gets at most one entry
// per group per flush, always with the latest version (protocol §12), and
// never more notices than there were changes. No per-connection timers.
//
// Members that cannot take a notice yet (hello still being answered, socket
// buffer above the high-water mark) are skipped and retried after `retryMs`;
// their pending entry keeps merging meanwhile, so a slow reader costs at most
// one entry per group it holds, however many commits happen.
import { encodePushFrame, isSyncError, PushFrameType, SyncErrorCode, type GroupVersion } from '../../device-protocol/index.js';

export interface PendingNotice {
  /** Latest id/version per group name, in the order the groups first changed. */
  readonly groups: Map<string, GroupVersion>;
  /** performance.now() when the oldest change of this batch reached the hub. */
  readonly firstObservedAt: number;
  /** The store's timestamp (ChangeRecord.at, epoch ms) of the oldest change of this batch. */
  readonly firstChangeAt: number;
  /** Changes merged into this batch (>= groups.size). */
  changes: number;
}

export interface NoticeSink<C> {
  /** 'now': send; 'later': keep merging and retry; 'gone': discard the pending notice. */
  readiness(member: C): 'now' | 'later' | 'gone';
  /** Sends one encoded notice (a batch too large for one frame comes as several). */
  send(member: C, frame: Uint8Array, notice: PendingNotice, groups: readonly GroupVersion[]): void;
  /** Encoding or sending threw (e.g. a single group name too long for a frame): close the member. */
  fail(member: C, err: unknown): void;
}

type Handle = { kind: 'timeout'; handle: NodeJS.Timeout } | { kind: 'immediate'; handle: NodeJS.Immediate };

export class NoticeBatcher<C> {
  readonly #pending = new Map<C, PendingNotice>();
  readonly #delayMs: number;
  readonly #retryMs: number;
  readonly #sink: NoticeSink<C>;
  #timer: Handle | null = null;
  #closed = false;

  constructor(sink: NoticeSink<C>, delayMs: number, retryMs: number) {
    this.#sink = sink;
    this.#delayMs = delayMs;
    this.#retryMs = Math.max(retryMs, 1);
  }

  /** Records that `member` should hear about `group`; the latest call per group name wins. */
  add(member: C, group: GroupVersion, observedAt: number, changeAt: number): void {
    if (this.#closed) return;
    const pending = this.#pending.get(member);
    if (pending) {
      pending.groups.set(group.groupName, group);
      pending.changes++;
    } else {
      this.#pending.set(member, {
        groups: new Map([[group.groupName, group]]),
        firstObservedAt: observedAt,
        firstChangeAt: changeAt,
        changes: 1,
      });
    }
    this.#arm(this.#delayMs);
  }

  /** The pending notice of a member, e.g. to drop entries its ServerHello already reported. */
  pendingFor(member: C): PendingNotice | undefined {
    return this.#pending.get(member);
  }

  /** Forgets a member (closed connection). */
  drop(member: C): void {
    this.#pending.delete(member);
  }

  /** Flushes soon (after the coalescing delay), e.g. once a member became ready. */
  schedule(): void {
    if (this.#pending.size > 0) this.#arm(this.#delayMs);
  }

  /** Number of members with a notice waiting. */
  get size(): number {
    return this.#pending.size;
  }

  close(): void {
    this.#closed = true;
    this.#disarm();
    this.#pending.clear();
  }

  #arm(ms: number): void {
    if (this.#timer || this.#closed) return;
    // unref: a pending notice alone must not keep the process alive.
    if (ms === 0) {
      const handle = setImmediate(() => this.#flush());
      handle.unref();
      this.#timer = { kind: 'immediate', handle };
    } else {
      const handle = setTimeout(() => this.#flush(), ms);
      handle.unref();
      this.#timer = { kind: 'timeout', handle };
    }
  }

  #disarm(): void {
    if (!this.#timer) return;
    if (this.#timer.kind === 'timeout') clearTimeout(this.#timer.handle);
    else clearImmediate(this.#timer.handle);
    this.#timer = null;
  }

  #flush(): void {
    this.#timer = null;
    // Most flushes send the same one-group notice to many members (one commit,
    // many terminals holding the group): encode each distinct one once.
    const cache = new Map<string, Uint8Array>();
    let deferred = false;
    for (const [member, notice] of this.#pending) {
      const readiness = this.#sink.readiness(member);
      if (readiness === 'later') {
        deferred = true;
        continue;
      }
      this.#pending.delete(member);
      if (readiness === 'gone' || notice.groups.size === 0) continue;
      try {
        for (const chunk of encodeChunks([...notice.groups.values()], cache)) {
          this.#sink.send(member, chunk.frame, notice, chunk.groups);
        }
      } catch (err) {
        // One member's failure must neither reach the timer (process crash)
        // nor stop the flush for the others.
        this.#sink.fail(member, err);
      }
    }
    if (deferred) this.#arm(this.#retryMs);
  }
}

interface Chunk {
  frame: Uint8Array;
  groups: GroupVersion[];
}

/**
 * Encodes groups as one notice, or, when they do not fit in one push frame
 * (only possible for a terminal holding thousands of groups that all changed
 * at once), as several, split in halves until each fits.
 */
function encodeChunks(groups: GroupVersion[], cache: Map<string, Uint8Array>): Chunk[] {
  if (groups.length === 1) {
    const g = groups[0]!;
    const key = `${g.groupId}\u0000${g.version}\u0000${g.groupName}`;
    let frame = cache.get(key);
    if (!frame) cache.set(key, (frame = encodePushFrame({ type: PushFrameType.Notice, groups })));
    return [{ frame, groups }];
  }
  try {
    return [{ frame: encodePushFrame({ type: PushFrameType.Notice, groups }), groups }];
  } catch (err) {
    if (!isSyncError(err) || err.code !== SyncErrorCode.FrameTooLarge) throw err;
    const half = Math.ceil(groups.length / 2);
    return [...encodeChunks(groups.slice(0, half), cache), ...encodeChunks(groups.slice(half), cache)];
  }
}
