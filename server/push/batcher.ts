// Coalescing of version notices (protocol §12). A commit does not send
// anything itself: it records "group G is now at version V" in the pending
// notice of each connection holding G, and one hub-wide timer sends them.
//
// Leading edge, then a window per connection: the first change a connection
// hears of after a quiet spell goes out at once (a microtask once the
// store's commit callbacks have run, so changes committed together still
// share one notice); that notice opens
// the connection's window of `delayMs`, and what arrives during it is held
// and sent when the window ends, which opens the next one. A quiet terminal
// therefore hears at broker speed, and a storm still costs each terminal at
// most one notice per window, with the latest version of each group. Changes
// merge into the pending entry of their group, so a connection gets at most
// one entry per group per notice and never more notices than there were
// changes. One timer for the hub, armed for the earliest due connection; no
// per-connection timers.
//
// Members that cannot take a notice yet (hello still being answered, socket
// buffer above the high-water mark) are skipped and retried after `retryMs`;
// their pending entry keeps merging meanwhile, so a slow reader costs at most
// one entry per group it holds, however many commits happen.
//
// Nothing is allocated per member per commit (see Slot): a commit's fan-out
// to 1,000 terminals is a Map lookup and a few field writes per terminal when
// it is recorded (addAll) and when it is sent.
import { performance } from 'node:perf_hooks';
import { encodePushFrame, isSyncError, PushFrameType, SyncErrorCode, type GroupVersion } from '../../device-protocol/index.js';

/** What a sink learns about the notice it sends; valid only during the send() call (the batcher reuses it). */
export interface PendingNotice {
  /** performance.now() when the oldest change of this batch reached the hub. */
  readonly firstObservedAt: number;
  /** The store's timestamp (ChangeRecord.at, epoch ms) of the oldest change of this batch. */
  readonly firstChangeAt: number;
  /** Changes merged into this batch (>= the number of groups). */
  readonly changes: number;
}

export interface NoticeSink<C> {
  /** 'now': send; 'later': keep merging and retry; 'gone': discard the pending notice. */
  readiness(member: C): 'now' | 'later' | 'gone';
  /** Sends one encoded notice (a batch too large for one frame comes as several). */
  send(member: C, frame: Uint8Array, notice: PendingNotice, groups: readonly GroupVersion[]): void;
  /** Encoding or sending threw (e.g. a single group name too long for a frame): close the member. */
  fail(member: C, err: unknown): void;
  /**
   * Optional, after a flush that sent anything: how many notices, the oldest
   * change among them reaching the hub (`firstObservedAt`), and when the flush
   * started and ended (clock times).
   */
  flushed?(notices: number, firstObservedAt: number, startedAt: number, endedAt: number): void;
}

/** Time and timers of the batcher; tests inject a manual clock, so windows are checked by counting, not timing. */
export interface BatcherClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Runs `fn` after `ms` (0: once the current task is done); returns a function that cancels it. */
  schedule(ms: number, fn: () => void): () => void;
}

/**
 * performance.now() and unref'd Node timers: a pending notice alone must not keep the process alive.
 * A flush due now runs as a microtask, not setImmediate: the store hands out the
 * changes of one durable batch from promise callbacks queued together, so a
 * microtask queued by the first still runs after the last (they share one
 * notice), but no longer behind the rest of the event-loop phase: bench:sync
 * measured onCommit -> setImmediate at 0.7 ms p50 and 7 ms p99 on this machine.
 */
export const NODE_BATCHER_CLOCK: BatcherClock = {
  now: () => performance.now(),
  schedule(ms, fn) {
    if (ms <= 0) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) fn();
      });
      return () => {
        cancelled = true;
      };
    }
    const handle = setTimeout(fn, ms);
    handle.unref();
    return () => clearTimeout(handle);
  },
};

/**
 * One member's batching state, made at its first change and kept until it is
 * dropped, so a commit to 1,000 members allocates nothing per member: the
 * fields are overwritten in place. A fan-out used to make a pending object and
 * a Map per member per commit, and grow and shrink two hub-wide Maps by 1,000
 * entries; bench:sync saw young-generation scavenges of 6-12 ms promoting
 * ~3 MB of that, several of them inside fan-outs.
 */
class Slot<C> {
  /** The one pending group (the common case), when `groups` is null. */
  group: GroupVersion | null = null;
  /** Two or more pending groups, by name, in the order they first changed. */
  groups: Map<string, GroupVersion> | null = null;
  // NaN, not 0: the fields hold doubles from the start (no representation change at the first write).
  firstObservedAt = Number.NaN;
  firstChangeAt = Number.NaN;
  /** Changes merged into the pending notice; 0: nothing pending. */
  changes = 0;
  /** When the member's window ends (its last notice + delayMs); a time in the past means none. */
  windowEnd = Number.NEGATIVE_INFINITY;
  /** Listed in the batcher's queue (at most once). */
  queued = false;
  /** Dropped: a queue entry still naming it is skipped. */
  dropped = false;

  constructor(readonly member: C) {}

  clear(): void {
    this.group = null;
    this.groups = null;
    this.changes = 0;
  }
}

export class NoticeBatcher<C> {
  readonly #slots = new Map<C, Slot<C>>();
  /**
   * Slots with something pending, in [0, #queued). An array used as a list
   * (entries past the end are null), never shrunk: no rehashing per commit.
   */
  #queue: Array<Slot<C> | null> = [];
  #queued = 0;
  /** Members with a notice pending. */
  #pendingCount = 0;
  readonly #delayMs: number;
  readonly #retryMs: number;
  readonly #sink: NoticeSink<C>;
  readonly #clock: BatcherClock;
  /** What send() is told about each notice, overwritten per member (see PendingNotice). */
  readonly #notice = { firstObservedAt: 0, firstChangeAt: 0, changes: 0 };
  #timer: { at: number; cancel: () => void } | null = null;
  #closed = false;

  constructor(sink: NoticeSink<C>, delayMs: number, retryMs: number, clock: BatcherClock = NODE_BATCHER_CLOCK) {
    this.#sink = sink;
    this.#delayMs = delayMs;
    this.#retryMs = Math.max(retryMs, 1);
    this.#clock = clock;
  }

  /** Records that `member` should hear about `group`; the latest call per group name wins. */
  add(member: C, group: GroupVersion, observedAt: number, changeAt: number): void {
    if (this.#closed) return;
    const slot = this.#merge(member, group, observedAt, changeAt);
    if (slot === null) return; // already pending: the timer is armed for it (or for someone earlier)
    const now = this.#clock.now();
    this.#arm(slot.windowEnd > now ? slot.windowEnd : now, now);
  }

  /**
   * add() for every member of one commit, with the clock read and the timer
   * armed once for all of them: what a fan-out to 1,000 terminals costs per
   * terminal is a Map lookup and a few field writes. The flush encodes each
   * `group` object once, so callers pass one object for the whole commit.
   */
  addAll(members: Iterable<C>, group: GroupVersion, observedAt: number, changeAt: number): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    let due = Infinity;
    for (const member of members) {
      const slot = this.#merge(member, group, observedAt, changeAt);
      if (slot !== null && slot.windowEnd < due) due = slot.windowEnd;
    }
    if (due !== Infinity) this.#arm(due > now ? due : now, now);
  }

  /** Merges one change into the member's pending notice; returns its slot if it was not pending before, else null. */
  #merge(member: C, group: GroupVersion, observedAt: number, changeAt: number): Slot<C> | null {
    let slot = this.#slots.get(member);
    if (slot === undefined) this.#slots.set(member, (slot = new Slot(member)));
    if (slot.changes > 0) {
      if (slot.groups !== null) slot.groups.set(group.groupName, group);
      else if (slot.group!.groupName === group.groupName) slot.group = group;
      else {
        slot.groups = new Map([
          [slot.group!.groupName, slot.group!],
          [group.groupName, group],
        ]);
        slot.group = null;
      }
      slot.changes++;
      return null;
    }
    slot.group = group;
    slot.firstObservedAt = observedAt;
    slot.firstChangeAt = changeAt;
    slot.changes = 1;
    this.#pendingCount++;
    if (!slot.queued) {
      slot.queued = true;
      this.#queue[this.#queued++] = slot;
    }
    return slot;
  }

  /**
   * Removes the member's pending entries for which `covered` is true, e.g. what
   * its ServerHello already reported.
   */
  discard(member: C, covered: (entry: GroupVersion) => boolean): void {
    const slot = this.#slots.get(member);
    if (slot === undefined || slot.changes === 0) return;
    if (slot.groups === null) {
      if (covered(slot.group!)) this.#settle(slot);
      return;
    }
    for (const [name, entry] of slot.groups) if (covered(entry)) slot.groups.delete(name);
    if (slot.groups.size === 0) this.#settle(slot);
  }

  /** Forgets a member (closed connection). */
  drop(member: C): void {
    const slot = this.#slots.get(member);
    if (slot === undefined) return;
    this.#slots.delete(member);
    if (slot.changes > 0) this.#settle(slot);
    slot.dropped = true;
  }

  /** Flushes what is due once the current task is done, e.g. once a member became ready. */
  schedule(): void {
    if (this.#pendingCount > 0) {
      const now = this.#clock.now();
      this.#arm(now, now);
    }
  }

  /** Number of members with a notice waiting. */
  get size(): number {
    return this.#pendingCount;
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = null;
    this.#slots.clear();
    this.#queue = [];
    this.#queued = 0;
    this.#pendingCount = 0;
  }

  /** Nothing pending any more (sent, discarded or dropped); the queue entry goes at the next flush. */
  #settle(slot: Slot<C>): void {
    slot.clear();
    this.#pendingCount--;
  }

  /** Makes sure a flush runs no later than `at`: the one timer only ever moves earlier here. */
  #arm(at: number, now: number): void {
    if (this.#closed) return;
    if (this.#timer && this.#timer.at <= at) return;
    this.#timer?.cancel();
    const timer = { at, cancel: () => {} };
    timer.cancel = this.#clock.schedule(Math.max(0, at - now), () => {
      if (this.#timer === timer) this.#timer = null;
      this.#flush();
    });
    this.#timer = timer;
  }

  #flush(): void {
    if (this.#closed) return;
    const startedAt = this.#clock.now();
    const now = startedAt;
    let nextAt = Infinity;
    let sent = 0;
    let firstObservedAt = Infinity;
    // Most flushes send the same one-group notice to many members (one commit,
    // many terminals holding the group): encode each distinct one once. Keyed
    // by the entry object, which add() callers share across the members of one
    // commit (the hub makes one per commit): no key string per member. Equal
    // entries from different objects are merely encoded twice. The last one is
    // kept aside so the common case does not even look up the Map.
    let lastGroup: GroupVersion | null = null;
    let lastChunk: Chunk | null = null;
    let cache: Map<GroupVersion, Chunk> | null = null;
    const queue = this.#queue;
    // Members added while this flush runs (a sink calling back) land past `end`
    // and are kept for the next flush.
    const end = this.#queued;
    let kept = 0;
    for (let i = 0; i < end; i++) {
      const slot = queue[i]!;
      queue[i] = null;
      if (slot.dropped || slot.changes === 0) {
        slot.queued = false;
        continue;
      }
      if (slot.windowEnd > now) {
        nextAt = Math.min(nextAt, slot.windowEnd);
        queue[kept++] = slot;
        continue;
      }
      const member = slot.member;
      const readiness = this.#sink.readiness(member);
      if (readiness === 'later') {
        nextAt = Math.min(nextAt, now + this.#retryMs);
        queue[kept++] = slot;
        continue;
      }
      slot.queued = false;
      if (readiness === 'gone') {
        this.#settle(slot);
        this.#slots.delete(member);
        slot.dropped = true;
        continue;
      }
      const group = slot.group;
      const groups = slot.groups;
      const notice = this.#notice;
      notice.firstObservedAt = slot.firstObservedAt;
      notice.firstChangeAt = slot.firstChangeAt;
      notice.changes = slot.changes;
      // Settled before sending: a change added meanwhile starts a new pending notice.
      this.#settle(slot);
      try {
        if (groups === null) {
          // The common case, without the arrays of the general one.
          let chunk: Chunk | undefined = group === lastGroup ? lastChunk! : (cache ??= new Map()).get(group!);
          if (chunk === undefined) {
            const list = [group!];
            cache!.set(group!, (chunk = { frame: encodePushFrame({ type: PushFrameType.Notice, groups: list }), groups: list }));
          }
          lastGroup = group;
          lastChunk = chunk;
          // The same frame and groups array for every member: the sink must not modify them.
          this.#sink.send(member, chunk.frame, notice, chunk.groups);
        } else {
          for (const chunk of encodeChunks([...groups.values()])) this.#sink.send(member, chunk.frame, notice, chunk.groups);
        }
        sent++;
        if (notice.firstObservedAt < firstObservedAt) firstObservedAt = notice.firstObservedAt;
        // From when this member's notice actually left, not from the start of
        // the flush: a flush over thousands of members takes milliseconds.
        if (this.#delayMs > 0) slot.windowEnd = this.#clock.now() + this.#delayMs;
      } catch (err) {
        // One member's failure must neither reach the timer (process crash)
        // nor stop the flush for the others.
        this.#sink.fail(member, err);
      }
    }
    // Move what was added during the flush down behind what was kept.
    for (let i = end; i < this.#queued; i++) {
      queue[kept++] = queue[i]!;
      queue[i] = null;
    }
    this.#queued = kept;
    if (sent > 0) this.#sink.flushed?.(sent, firstObservedAt, startedAt, this.#clock.now());
    if (nextAt !== Infinity) this.#arm(nextAt, now);
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
function encodeChunks(groups: GroupVersion[]): Chunk[] {
  try {
    return [{ frame: encodePushFrame({ type: PushFrameType.Notice, groups }), groups }];
  } catch (err) {
    // One group too large for a frame alone (a name beyond the limits): nothing to split.
    if (!isSyncError(err) || err.code !== SyncErrorCode.FrameTooLarge || groups.length === 1) throw err;
    const half = Math.ceil(groups.length / 2);
    return [...encodeChunks(groups.slice(0, half)), ...encodeChunks(groups.slice(half))];
  }
}
