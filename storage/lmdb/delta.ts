// The net effect of a group's change log after a version: pure logic, no I/O.
//
// Facts the log guarantees (the store only logs effective changes):
// - per (group, face) the ops alternate: a `bind` is logged only when the face
//   was not bound just before, an `unbind` only when it was;
// - a face's LATEST change is never dropped by compaction except as a
//   tombstone (an unbind), and dropping a tombstone raises the group's floor
//   to its version, so for every answerable `from` (>= floor) each face whose
//   latest change is after `from` still has that latest entry in the log.
//
// Hence for a face with entries after `from`:
// - latest op bind   -> bound now: `upserted` (it was unbound at `from`, or
//   was unbound and re-bound, possibly with other user data; re-sending is right);
// - latest op unbind -> not bound now: `removed`, unless the face was provably
//   unbound at `from`. With a complete log after `from` (from >= horizon, the
//   highest version compaction dropped as superseded), the FIRST op after
//   `from` tells: a first `bind` means it was unbound at `from`, so a
//   bind..unbind inside the range is a no-op and is left out. Below the
//   horizon an earlier unbind may have been dropped, so the proof is not
//   available and the face is reported as removed (possibly redundantly:
//   removing what a terminal does not hold is harmless; missing a removal is not).
// Faces without entries after `from` did not change and are not mentioned.
import type { FaceToken } from '../ids.js';
import type { ChangeOp, GroupDelta } from '../store.js';
import type { VersionGap } from './layout.js';

export interface LogEntry {
  version: number;
  op: ChangeOp;
  faceToken?: string | undefined;
}

/**
 * Folds the log entries with version in (fromVersion, toVersion], given in
 * version order, into a delta. `exact` says the entries after `fromVersion`
 * are complete (no compaction drops above `fromVersion`).
 */
export function deltaFromLog(entries: Iterable<LogEntry>, fromVersion: number, toVersion: number, exact: boolean): GroupDelta {
  const first = new Map<string, ChangeOp>();
  const last = new Map<string, ChangeOp>();
  for (const entry of entries) {
    if (entry.version <= fromVersion || entry.version > toVersion) continue;
    if (entry.faceToken === undefined || (entry.op !== 'bind' && entry.op !== 'unbind')) continue;
    if (!first.has(entry.faceToken)) first.set(entry.faceToken, entry.op);
    last.set(entry.faceToken, entry.op);
  }
  const upserted: FaceToken[] = [];
  const removed: FaceToken[] = [];
  for (const [token, op] of last) {
    if (op === 'bind') upserted.push(token as FaceToken);
    else if (!(exact && first.get(token) === 'bind')) removed.push(token as FaceToken);
  }
  upserted.sort(compareTokens);
  removed.sort(compareTokens);
  return { fromVersion, toVersion, upserted, removed };
}

/** Face tokens sort by code unit; for their ASCII alphabet that is the key (byte) order too. */
export function compareTokens(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether `fromVersion` can be answered from the kept log of a live group at
 * `currentVersion`, and whether the answer is exact (see file header).
 */
export function answerability(
  fromVersion: number,
  currentVersion: number,
  state: { floor: number; horizon: number; skipped?: readonly VersionGap[] | undefined },
): 'unanswerable' | 'exact' | 'conservative' {
  if (!Number.isSafeInteger(fromVersion) || fromVersion > currentVersion || fromVersion < state.floor) return 'unanswerable';
  // A version from history this store never saw (it was restored from an
  // older backup): what the terminal holds is unknown, only a full copy is right.
  if (state.skipped?.some((gap) => fromVersion > gap.after && fromVersion < gap.before)) return 'unanswerable';
  return fromVersion >= state.horizon ? 'exact' : 'conservative';
}

/**
 * How many changes lie between two versions of a group, `from` being a
 * version the store had: the difference less the skipped ranges above it
 * (a restore jumps the version without any change).
 */
export function changesBetween(from: number, to: number, skipped: readonly VersionGap[] | undefined): number {
  let changes = to - from;
  for (const gap of skipped ?? []) if (gap.after >= from && gap.before <= to) changes -= gap.before - gap.after;
  return changes;
}
