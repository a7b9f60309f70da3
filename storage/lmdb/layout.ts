// The on-disk layout of the LMDB face store: one environment, one named
// sub-database per kind of record, and explicit key layouts.
//
// Keys use lmdb-js's default ordered-binary key encoding: numbers sort
// numerically, strings by UTF-8 bytes (face tokens, ids and names here are
// ASCII in practice, so that is also JavaScript's `<` order), and array keys
// sort element by element, so `[gid]` sorts before every `[gid, x]` and a
// range scan over a prefix reads one group's (or one face's) rows in order.
//
// Sub-database         key                         value
// -------------------  --------------------------  --------------------------------------------
// image-meta           imageId                     StoredImage {mime,width,height,createdAt}
// image-bytes          imageId                     raw bytes of the original upload (binary)
// face-meta            faceToken                   StoredFace (FaceRecord without token and feature)
// face-features        faceToken                   raw little-endian float32 feature (binary);
//                                                  removed when the face is deleted
// groups               groupId                     GroupRecord, live or deleted (history)
// group-by-name        [library, name]             groupId of the LIVE group of that name
// name-versions        [library, name]             last version used by that name, so a group
//                                                  re-created under it continues the counter
// bindings             [groupId, faceToken]        StoredBinding {userId?,userInfo?,boundAt}
// face-groups          [faceToken, groupId]        true; reverse index of `bindings`
// group-users          [groupId, userId]           StoredUser {userInfo, faceCount}: the users
//                                                  of a group (bindings carrying a user id)
// user-faces           [groupId, userId, token]    true; the faces of one user in one group
// user-groups          [userId, groupId]           true; reverse index of `group-users`
// changes              [groupId, version]          StoredChange {op, faceToken?, at}; the log
// last-change          [groupId, faceToken]        version of that face's latest change in the
//                                                  group (the entry itself may be compacted away
//                                                  once it is at or below the group's floor)
// compactable          [groupId, version]          true; log entries that compaction may be
//                                                  able to drop (superseded, tombstone, create,
//                                                  delete); see compaction.ts
// log-state            groupId                     LogState {floor, horizon}; see delta.ts
// meta                 string                      'schema' -> SCHEMA_VERSION,
//                                                  'nextGroupId' -> next group id to hand out,
//                                                  'featureModel:<model>' -> live faces whose feature
//                                                  that model made, 'featureModelsCounted' -> 1
//                                                  once those counts exist (feature-models.ts),
//                                                  'lineage' -> base of the current lineage (0 until
//                                                  the first restore; see beginRestoredLineage)
// settings             string                      number; server settings (putSettings)
// face-features-next   faceToken                   the second feature slot: face-features and it
//                                                  take turns as the served slot and the one a
//                                                  model upgrade writes into (feature-upgrade.ts);
//                                                  `face-features` above means the served slot
// feature-upgrade      'slot' | 'gen' | 'served'   served slot, switches done, served model;
//                      | 'state' | 'last'          the upgrade in progress; the last switch
// upgrade-failures     faceToken                   reason (string): photo gave no feature of the
//                                                  upgrade's model
import type { Database, RootDatabase, Transaction } from 'lmdb';
import type { ChangeOp, Rect } from '../store.js';
import type { FaceQuality } from '../../models/engine.js';

/** Bumped when the layout changes incompatibly; checked on open. */
export const SCHEMA_VERSION = 1;

export type GroupKey = number;
export type NameKey = [library: string, name: string];
export type PairKey = [number, string];
export type ReversePairKey = [string, number];
export type VersionKey = [groupId: number, version: number];
export type UserFaceKey = [groupId: number, userId: string, faceToken: string];

export interface StoredImage {
  mime: string;
  width: number;
  height: number;
  createdAt: number;
}

export interface StoredFace {
  imageId: string;
  library: string;
  rect: Rect;
  quality: FaceQuality;
  createdAt: number;
  modelVersion: string;
  deletedAt: number | null;
  /** Model-upgrade switches done when this record was written (absent: 0); see feature-upgrade.ts. */
  gen?: number;
}

export interface StoredGroup {
  groupId: number;
  library: string;
  name: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  faceCount: number;
  /** Absent in groups written before users were counted (they have none). */
  userCount?: number;
  tokenDigest: string;
  deletedAt: number | null;
}

export interface StoredUser {
  userInfo: string;
  faceCount: number;
}

export interface StoredBinding {
  userId?: string;
  userInfo?: string;
  boundAt: number;
}

export interface StoredChange {
  op: ChangeOp;
  faceToken?: string;
  at: number;
}

/**
 * Per-group bookkeeping of what the (possibly compacted) log can still answer.
 * - floor: `deltaSince(from)` needs `from >= floor`. Starts at the version the
 *   group was created with; raised when a tombstone is compacted away.
 * - horizon: the highest version of a superseded entry dropped by compaction.
 *   For `from >= horizon` the log after `from` is complete and deltas are exact.
 */
export interface LogState {
  floor: number;
  horizon: number;
  /**
   * Version ranges this store never had, set by `beginRestoredLineage`
   * (restore from a backup): versions `after < v < before` may have existed
   * in the history the backup did not see, so they are never answered with
   * a delta. Absent before any restore.
   */
  skipped?: VersionGap[];
}

/** Versions strictly between `after` and `before` are unknown here; no change happened in between. */
export interface VersionGap {
  after: number;
  before: number;
}

export interface Databases {
  env: RootDatabase;
  imageMeta: Database<StoredImage, string>;
  imageBytes: Database<Buffer, string>;
  faceMeta: Database<StoredFace, string>;
  faceFeatures: Database<Buffer, string>;
  groups: Database<StoredGroup, GroupKey>;
  groupByName: Database<number, NameKey>;
  nameVersions: Database<number, NameKey>;
  bindings: Database<StoredBinding, PairKey>;
  faceGroups: Database<true, ReversePairKey>;
  groupUsers: Database<StoredUser, PairKey>;
  userFaces: Database<true, UserFaceKey>;
  userGroups: Database<true, ReversePairKey>;
  changes: Database<StoredChange, VersionKey>;
  lastChange: Database<number, PairKey>;
  compactable: Database<true, VersionKey>;
  logState: Database<LogState, GroupKey>;
  meta: Database<number, string>;
  settings: Database<number, string>;
  faceFeaturesNext: Database<Buffer, string>;
  featureUpgrade: Database<unknown, string>;
  upgradeFailures: Database<string, string>;
}

/** Number of named databases below; the environment's maxDbs leaves room for growth. */
export const MAX_DBS = 32;

export function openDatabases(env: RootDatabase): Databases {
  const msgpack = (name: string) => env.openDB(name, { encoding: 'msgpack' });
  const binary = (name: string) => env.openDB(name, { encoding: 'binary' });
  return {
    env,
    imageMeta: msgpack('image-meta'),
    imageBytes: binary('image-bytes'),
    faceMeta: msgpack('face-meta'),
    faceFeatures: binary('face-features'),
    groups: msgpack('groups'),
    groupByName: msgpack('group-by-name'),
    nameVersions: msgpack('name-versions'),
    bindings: msgpack('bindings'),
    faceGroups: msgpack('face-groups'),
    groupUsers: msgpack('group-users'),
    userFaces: msgpack('user-faces'),
    userGroups: msgpack('user-groups'),
    changes: msgpack('changes'),
    lastChange: msgpack('last-change'),
    compactable: msgpack('compactable'),
    logState: msgpack('log-state'),
    meta: msgpack('meta'),
    settings: msgpack('settings'),
    faceFeaturesNext: binary('face-features-next'),
    featureUpgrade: msgpack('feature-upgrade'),
    upgradeFailures: msgpack('upgrade-failures'),
  } as Databases;
}

/**
 * Rows whose array key starts with `prefix` (one element), in key order,
 * starting after `[prefix, after]` when `after` is given. Stops at the first
 * key outside the prefix, so it never depends on how an "end" key encodes.
 */
export function* prefixRange<K extends [string | number, string | number], V>(
  db: Database<V, K>,
  prefix: K[0],
  opts: { after?: K[1]; limit?: number; transaction?: Transaction } = {},
): Generator<{ key: K; value: V }> {
  const start = opts.after !== undefined ? [prefix, opts.after] : [prefix];
  const range = db.getRange({
    start: start as K,
    exclusiveStart: opts.after !== undefined,
    ...(opts.transaction ? { transaction: opts.transaction } : {}),
  });
  let n = 0;
  const limit = opts.limit ?? Infinity;
  if (limit <= 0) return;
  for (const entry of range) {
    if (entry.key[0] !== prefix) break;
    yield { key: entry.key, value: entry.value };
    if (++n >= limit) break;
  }
}

/** Rows of a three-element key `[a, b, x]` for one `[a, b]`, in key order. */
export function* pairPrefixRange<V>(
  db: Database<V, UserFaceKey>,
  a: number,
  b: string,
  opts: { transaction?: Transaction } = {},
): Generator<{ key: UserFaceKey; value: V }> {
  const range = db.getRange({ start: [a, b] as unknown as UserFaceKey, ...(opts.transaction ? { transaction: opts.transaction } : {}) });
  for (const entry of range) {
    if (entry.key[0] !== a || entry.key[1] !== b) break;
    yield { key: entry.key, value: entry.value };
  }
}
