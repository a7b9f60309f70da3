// A model upgrade in the LMDB store. Features live in two sub-databases,
// "slots" (`face-features` = 0, `face-features-next` = 1); `slot` says which
// one is served. An upgrade writes the new model's features into the other
// slot while the server keeps serving the old ones; the switch is one write
// transaction whose cost does not grow with the faces: it flips `slot`,
// bumps `gen`, sets the served model and the per-model counts, clears the
// slot that now holds the old features (mdb_drop, in C) and ends the
// upgrade. A crash before that commit leaves the old features served and the
// staged ones kept (the upgrade resumes); after it, only the new ones exist.
// Nothing ever serves a mix.
//
// A face's `modelVersion` is stored with the generation (`gen`, the number
// of switches so far) it was written at. Written before the last switch, a
// live face's model is the served model if it has a served feature (the
// switch gave it one), and '' if not (its photo failed the upgrade); written
// since, its stored model. So the switch rewrites no face record.
//
// `feature-upgrade` holds:
//   'slot'   0 | 1, the served slot (absent: 0)
//   'gen'    switches done (absent: 0)
//   'served' the model of the served features (set at begin and at switch)
//   'state'  StoredUpgrade while an upgrade runs (counts kept by the writes)
//   'last'   summary of the last switch (models, faces, failures)
import type { Database, Transaction } from 'lmdb';
import type { FaceToken } from '../ids.js';
import type { FeatureSwitch, FeatureUpgradeState } from '../store.js';
import type { Databases, StoredFace } from './layout.js';

export interface StoredUpgrade {
  from: string;
  to: string;
  startedAt: number;
  /** Live faces with a feature in the staging slot. */
  staged: number;
  /** Live faces with a failure mark and no staged feature. */
  failed: number;
}

export interface LastSwitch {
  from: string;
  to: string;
  at: number;
  faces: number;
  failed: Array<{ faceToken: string; reason: string }>;
}

const MAX_LISTED = 1000;
const FEATURE_MODEL_PREFIX = 'featureModel:';

type Options = { transaction: Transaction } | undefined;
const opts = (transaction?: Transaction): Options => (transaction ? { transaction } : undefined);

export function upgradeState(db: Databases, transaction?: Transaction): StoredUpgrade | undefined {
  return db.featureUpgrade.get('state', opts(transaction)) as StoredUpgrade | undefined;
}

export function servedModel(db: Databases, transaction?: Transaction): string | undefined {
  return db.featureUpgrade.get('served', opts(transaction)) as string | undefined;
}

function slotIndex(db: Databases, transaction?: Transaction): 0 | 1 {
  return ((db.featureUpgrade.get('slot', opts(transaction)) as number | undefined) ?? 0) === 1 ? 1 : 0;
}

/** The sub-database of the served features. */
export function servedSlot(db: Databases, transaction?: Transaction): Database<Buffer, string> {
  return slotIndex(db, transaction) === 0 ? db.faceFeatures : db.faceFeaturesNext;
}

/** The sub-database an upgrade writes the new features into. */
export function stagingSlot(db: Databases, transaction?: Transaction): Database<Buffer, string> {
  return slotIndex(db, transaction) === 0 ? db.faceFeaturesNext : db.faceFeatures;
}

/** Switches done so far: the generation a face written now carries. */
export function generation(db: Databases, transaction?: Transaction): number {
  return (db.featureUpgrade.get('gen', opts(transaction)) as number | undefined) ?? 0;
}

/** What a store read needs to report a face's model; read once per read transaction. */
export interface ModelView {
  gen: number;
  served: string;
  /** The served slot. */
  features: Database<Buffer, string>;
}

export function modelView(db: Databases, transaction?: Transaction): ModelView {
  return { gen: generation(db, transaction), served: servedModel(db, transaction) ?? '', features: servedSlot(db, transaction) };
}

/** The model of a face's served feature (see the header); `hasServed`: it has a row in the served slot. */
export function effectiveModel(face: StoredFace, hasServed: boolean, view: ModelView): string {
  if (face.deletedAt !== null || (face.gen ?? 0) === view.gen) return face.modelVersion;
  return hasServed ? view.served : '';
}

/** Live faces: the per-model counts, including faces kept without a feature (model ''). */
export function liveFaces(db: Databases, transaction?: Transaction): number {
  let total = 0;
  for (const { key, value } of db.meta.getRange({ start: FEATURE_MODEL_PREFIX, ...(transaction ? { transaction } : {}) })) {
    if (!key.startsWith(FEATURE_MODEL_PREFIX)) break;
    total += value;
  }
  return total;
}

export function toState(stored: StoredUpgrade, total: number): FeatureUpgradeState {
  return { from: stored.from, to: stored.to, startedAt: stored.startedAt, staged: stored.staged, failed: stored.failed, total };
}

/** Inside a write transaction. */
export function beginUpgrade(db: Databases, to: string, from: string, now: number): StoredUpgrade {
  const current = upgradeState(db);
  if (current && current.to === to) return current;
  // Whatever the staging slot holds (another target's features, or the
  // features the last switch replaced) is of no use to this upgrade.
  stagingSlot(db).clearSync();
  db.upgradeFailures.clearSync();
  const state: StoredUpgrade = { from: current?.from ?? from, to, startedAt: now, staged: 0, failed: 0 };
  db.featureUpgrade.putSync('state', state);
  db.featureUpgrade.putSync('served', state.from);
  return state;
}

/** Inside a write transaction: whether a live face of `model` added now keeps its feature in the staging slot. */
export function stagesNewFaces(db: Databases, model: string): boolean {
  return upgradeState(db)?.to === model;
}

/** Inside a write transaction: stages a feature (raw bytes) for a live face. */
export function stage(db: Databases, token: string, bytes: Buffer): void {
  const state = upgradeState(db)!;
  const slot = stagingSlot(db);
  const fresh = slot.get(token) === undefined;
  slot.putSync(token, bytes);
  const failed = db.upgradeFailures.get(token) !== undefined;
  if (failed) db.upgradeFailures.removeSync(token);
  if (fresh || failed) {
    db.featureUpgrade.putSync('state', { ...state, staged: state.staged + (fresh ? 1 : 0), failed: state.failed - (failed ? 1 : 0) });
  }
}

/** Inside a write transaction: marks a live face without a staged feature as failed. */
export function markFailed(db: Databases, token: string, reason: string): boolean {
  const state = upgradeState(db)!;
  if (stagingSlot(db).get(token) !== undefined) return false;
  const fresh = db.upgradeFailures.get(token) === undefined;
  db.upgradeFailures.putSync(token, reason);
  if (fresh) db.featureUpgrade.putSync('state', { ...state, failed: state.failed + 1 });
  return true;
}

/** Inside a write transaction: a face is deleted; forget its features and what the upgrade holds for it. */
export function forgetFace(db: Databases, token: string): void {
  servedSlot(db).removeSync(token);
  const state = upgradeState(db);
  if (!state) return;
  const slot = stagingSlot(db);
  const staged = slot.get(token) !== undefined;
  const failed = db.upgradeFailures.get(token) !== undefined;
  if (staged) slot.removeSync(token);
  if (failed) db.upgradeFailures.removeSync(token);
  if (staged || failed) {
    db.featureUpgrade.putSync('state', { ...state, staged: state.staged - (staged ? 1 : 0), failed: state.failed - (failed ? 1 : 0) });
  }
}

/**
 * Inside a write transaction: live faces with neither a staged feature nor
 * a failure mark (at most MAX_LISTED), and the true staged/failed counts.
 * A full scan: only when the counters disagree with the live count.
 */
function scan(db: Databases): { pending: FaceToken[]; staged: number; failed: number } {
  const slot = stagingSlot(db);
  const pending: FaceToken[] = [];
  let staged = 0;
  let failed = 0;
  for (const { key, value } of db.faceMeta.getRange()) {
    if (value.deletedAt !== null) continue;
    if (slot.doesExist(key)) staged++;
    else if (db.upgradeFailures.doesExist(key)) failed++;
    else if (pending.length < MAX_LISTED) pending.push(key as FaceToken);
  }
  return { pending, staged, failed };
}

/** Inside a write transaction: the switch (see FaceStore.finishFeatureUpgrade). */
export function switchFeatures(db: Databases, to: string, now: number): FeatureSwitch {
  let state = upgradeState(db);
  if (!state || state.to !== to) return { switched: false, pending: [], faces: 0, failedCount: 0, failed: [] };
  const live = liveFaces(db);
  if (state.staged + state.failed !== live) {
    // The counters say some face is not done: find which (or fix the counters).
    const found = scan(db);
    if (found.pending.length > 0) return { switched: false, pending: found.pending, faces: 0, failedCount: 0, failed: [] };
    state = { ...state, staged: found.staged, failed: found.failed };
  }
  const failed: FeatureSwitch['failed'] = [];
  for (const { key, value } of db.upgradeFailures.getRange()) {
    if (failed.length >= MAX_LISTED) break;
    failed.push({ faceToken: key as FaceToken, reason: value });
  }
  // The old features: now in what becomes the staging slot, dropped at once.
  const old = servedSlot(db);
  db.featureUpgrade.putSync('slot', slotIndex(db) === 0 ? 1 : 0);
  db.featureUpgrade.putSync('gen', generation(db) + 1);
  old.clearSync();
  db.upgradeFailures.clearSync();
  for (const { key } of Array.from(db.meta.getRange({ start: FEATURE_MODEL_PREFIX }))) {
    if (!key.startsWith(FEATURE_MODEL_PREFIX)) break;
    db.meta.removeSync(key);
  }
  if (state.staged > 0) db.meta.putSync(FEATURE_MODEL_PREFIX + to, state.staged);
  if (state.failed > 0) db.meta.putSync(FEATURE_MODEL_PREFIX, state.failed);
  db.featureUpgrade.removeSync('state');
  db.featureUpgrade.putSync('served', to);
  db.featureUpgrade.putSync('last', { from: state.from, to, at: now, faces: state.staged, failed } satisfies LastSwitch);
  return { switched: true, pending: [], faces: state.staged, failedCount: state.failed, failed };
}
