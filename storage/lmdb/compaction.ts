// Change-log compaction (Kafka log compaction / CouchDB changes-feed style:
// keep the latest change per (group, face)), one group per write transaction.
//
// What may go, for a live group at version V (policy K = keepChangesPerGroup,
// A = maxAgeMs; "old" means now - at >= A):
// 1. superseded entries: an entry of face f at version v < lastChange(f), once
//    v <= V - K and old. Dropping it loses nothing a delta needs: deltas use a
//    face's latest op, plus its first op after `from` for the "bound and
//    unbound inside the range" exception. That exception needs the log after
//    `from` to be complete, so the group's `horizon` records the highest
//    version dropped this way; `from < horizon` gets the conservative answer
//    (every face whose latest op is an unbind is listed as removed).
// 2. tombstones: an unbind that is its face's latest change, once v <= V - K
//    and old (the contract keeps the newest K entries whole, tombstones too).
//    A terminal at a version before v may still hold f and would never learn
//    of the removal, so the group's `floor` rises to v: `deltaSince(from < floor)`
//    returns null and that terminal gets a full copy. Every entry at or below
//    the floor is then unreachable (deltas read versions > from >= floor), so
//    it is swept, including latest binds of still-bound faces. (Those are all
//    old and outside the newest K too: versions below an old entry outside K.)
// 3. the create entry (no face; deltas never read it since floor >= its version),
//    once v <= V - K and old.
// 4. a deleted group's whole log, once its delete entry is old (deltaSince is
//    null for deleted groups anyway; the group record and the name's version
//    counter stay).
//
// Answerable after compaction: every `from` in [floor, V]. Because only
// entries outside the newest K and older than A are ever dropped, floor <= V - K
// and floor <= the version the group had A ago, so a terminal that is at most
// K changes or A milliseconds behind always gets a delta. For from >= horizon
// the delta is exact (minimal); for floor <= from < horizon it may list extra
// removals of faces bound and unbound after `from`, never miss a change.
//
// Work: candidates are found through the `compactable` marks written when an
// entry becomes superseded or is a tombstone/create/delete, so a pass touches
// what it may drop (plus one seek per marked group), not every kept entry.
// Marks are visited in version order and a pass stops at the first one inside
// the newest K or too young: versions grow with time because the store writes
// `at` non-decreasing per group (see lmdb-store.ts).
import type { CompactionPolicy } from '../store.js';
import { type Databases, type LogState, prefixRange } from './layout.js';
import { changesBetween } from './delta.js';

export interface GroupCompaction {
  removedEntries: number;
  /** True when the budget ran out and another transaction should continue. */
  more: boolean;
}

/** Compacts one group inside the caller's write transaction, touching at most about `budget` rows. */
export function compactGroup(db: Databases, groupId: number, policy: CompactionPolicy, now: number, budget: number): GroupCompaction {
  const group = db.groups.get(groupId);
  const isOld = (at: number) => now - at >= policy.maxAgeMs;
  if (!group || group.deletedAt !== null) {
    const deleteEntry = group ? db.changes.get([groupId, group.version]) : undefined;
    if (group && !isOld(deleteEntry?.at ?? group.deletedAt ?? now)) return { removedEntries: 0, more: false };
    return dropWholeLog(db, groupId, budget);
  }

  const state: LogState = db.logState.get(groupId) ?? { floor: 0, horizon: 0 };
  let { floor, horizon } = state;
  let removed = 0;
  let touched = 0;

  // Marks in version order; see the header for why each kind may go.
  const marks = Array.from(prefixRange(db.compactable, groupId, { limit: budget }), (row) => row.key[1] as number);
  let stopped = false;
  for (const version of marks) {
    touched++;
    const entry = db.changes.get([groupId, version]);
    if (!entry || version < floor) {
      db.compactable.removeSync([groupId, version]);
      if (entry) {
        db.changes.removeSync([groupId, version]);
        removed++;
      }
      continue;
    }
    if (changesBetween(version, group.version, state.skipped) < policy.keepChangesPerGroup || !isOld(entry.at)) {
      stopped = true;
      break;
    }
    if (entry.faceToken === undefined) {
      // create (or a stray delete mark on a live group): carries no face.
      dropEntry(db, groupId, version);
      removed++;
      continue;
    }
    const latest = db.lastChange.get([groupId, entry.faceToken]);
    if (latest !== undefined && latest > version) {
      dropEntry(db, groupId, version);
      horizon = Math.max(horizon, version);
      removed++;
    } else if (entry.op === 'unbind') {
      dropEntry(db, groupId, version);
      db.lastChange.removeSync([groupId, entry.faceToken]);
      floor = Math.max(floor, version);
      removed++;
    } else {
      // The latest change is a bind: still needed. The mark was stale.
      db.compactable.removeSync([groupId, version]);
    }
  }

  // Sweep everything below the floor (unreachable by any delta). Strictly
  // below: at the initial floor sits the young-or-old create entry, which
  // goes by rule 3 like any other entry; a floor raised by a tombstone has
  // that tombstone dropped already.
  const sweepLimit = Math.max(1, budget - touched);
  const below: number[] = [];
  for (const row of prefixRange(db.changes, groupId, { limit: sweepLimit + 1 })) {
    const version = row.key[1] as number;
    if (version >= floor) break;
    below.push(version);
  }
  for (const version of below.slice(0, sweepLimit)) dropEntry(db, groupId, version);
  removed += Math.min(below.length, sweepLimit);

  if (floor !== state.floor || horizon !== state.horizon) db.logState.putSync(groupId, { ...state, floor, horizon });
  const more = below.length > sweepLimit || (!stopped && marks.length >= budget);
  return { removedEntries: removed, more };
}

function dropEntry(db: Databases, groupId: number, version: number): void {
  db.changes.removeSync([groupId, version]);
  db.compactable.removeSync([groupId, version]);
}

/** Removes a deleted (or vanished) group's log and its indexes, in budget-sized chunks. */
function dropWholeLog(db: Databases, groupId: number, budget: number): GroupCompaction {
  let left = budget;
  let removed = 0;
  const take = <K extends [number, string | number]>(keys: Iterable<{ key: K }>) => {
    const out: K[] = [];
    for (const { key } of keys) {
      if (left <= 0) break;
      out.push(key);
      left--;
    }
    return out;
  };
  const changes = take(prefixRange(db.changes, groupId, { limit: budget }));
  for (const key of changes) db.changes.removeSync(key);
  removed += changes.length;
  for (const key of take(prefixRange(db.lastChange, groupId, { limit: budget }))) db.lastChange.removeSync(key);
  for (const key of take(prefixRange(db.compactable, groupId, { limit: budget }))) db.compactable.removeSync(key);
  const more = left <= 0;
  if (!more) db.logState.removeSync(groupId);
  return { removedEntries: removed, more };
}

/**
 * Read-only pre-check: could `compactGroup` remove anything now? Lets a pass
 * skip (without a write transaction and its fsync) the groups whose oldest
 * mark is still inside the newest K or too young.
 */
export function mayCompact(db: Databases, groupId: number, policy: CompactionPolicy, now: number): boolean {
  const group = db.groups.get(groupId);
  if (!group || group.deletedAt !== null) return true;
  const state = db.logState.get(groupId);
  const floor = state?.floor ?? 0;
  for (const row of prefixRange(db.changes, groupId, { limit: 1 })) if (row.key[1] < floor) return true;
  for (const row of prefixRange(db.compactable, groupId, { limit: 1 })) {
    const version = row.key[1];
    const entry = db.changes.get([groupId, version]);
    if (!entry || version < floor) return true;
    return changesBetween(version, group.version, state?.skipped) >= policy.keepChangesPerGroup && now - entry.at >= policy.maxAgeMs;
  }
  return false;
}

/** The smallest group id above `after` that has compaction marks (one seek). */
export function nextGroupWithMarks(db: Databases, after: number): number | undefined {
  for (const key of db.compactable.getKeys({ start: [after + 1], limit: 1 })) return key[0];
  return undefined;
}
