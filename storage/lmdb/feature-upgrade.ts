// A model upgrade in the LMDB store: features of the new model are written
// beside the served ones (`face-features-next`) while the server keeps
// serving the old ones, then one write transaction switches: the staged
// features become the served ones, the per-model counts and the served
// model marker follow, and the upgrade record goes. A crash before that
// commit leaves the old features served and the staged ones kept (the
// upgrade resumes); after it, only the new ones exist. Nothing ever serves a
// mix.
//
// `feature-upgrade` holds:
//   'state'  StoredUpgrade while an upgrade runs (counts kept by the writes)
//   'served' the model of the served features (set at begin and at switch)
//   'last'   summary of the last switch (model, faces, failures)
import type { Transaction } from 'lmdb';
import type { FaceToken } from '../ids.js';
import type { FeatureSwitch, FeatureUpgradeState } from '../store.js';
import type { Databases } from './layout.js';

export interface StoredUpgrade {
  from: string;
  to: string;
  startedAt: number;
  staged: number;
  failed: number;
}

export interface LastSwitch {
  from: string;
  to: string;
  at: number;
  faces: number;
  failed: Array<{ faceToken: string; reason: string }>;
}

const STATE = 'state';
const SERVED = 'served';
const LAST = 'last';
const MAX_PENDING = 1000;
const FEATURE_MODEL_PREFIX = 'featureModel:';

export function upgradeState(db: Databases, transaction?: Transaction): StoredUpgrade | undefined {
  return db.featureUpgrade.get(STATE, transaction ? { transaction } : undefined) as StoredUpgrade | undefined;
}

export function servedModel(db: Databases, transaction?: Transaction): string | undefined {
  return db.featureUpgrade.get(SERVED, transaction ? { transaction } : undefined) as string | undefined;
}

export function lastSwitch(db: Databases): LastSwitch | undefined {
  return db.featureUpgrade.get(LAST) as LastSwitch | undefined;
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
  if (current) {
    // Another target: its staged features are of no use to this one.
    for (const key of Array.from(db.faceFeaturesNext.getKeys())) db.faceFeaturesNext.removeSync(key);
    for (const key of Array.from(db.upgradeFailures.getKeys())) db.upgradeFailures.removeSync(key);
  }
  const state: StoredUpgrade = { from: current?.from ?? from, to, startedAt: now, staged: 0, failed: 0 };
  db.featureUpgrade.putSync(STATE, state);
  db.featureUpgrade.putSync(SERVED, state.from);
  return state;
}

/** Inside a write transaction: whether a live face of `to` added now keeps its feature beside the served one. */
export function stagesNewFaces(db: Databases, model: string): boolean {
  return upgradeState(db)?.to === model;
}

/** Inside a write transaction: stages a feature (raw bytes) for a live face. */
export function stage(db: Databases, token: string, bytes: Buffer): void {
  const state = upgradeState(db)!;
  const fresh = db.faceFeaturesNext.get(token) === undefined;
  db.faceFeaturesNext.putSync(token, bytes);
  const failed = db.upgradeFailures.get(token) !== undefined;
  if (failed) db.upgradeFailures.removeSync(token);
  if (fresh || failed) {
    db.featureUpgrade.putSync(STATE, { ...state, staged: state.staged + (fresh ? 1 : 0), failed: state.failed - (failed ? 1 : 0) });
  }
}

/** Inside a write transaction: marks a live face without a staged feature as failed. */
export function markFailed(db: Databases, token: string, reason: string): boolean {
  const state = upgradeState(db)!;
  if (db.faceFeaturesNext.get(token) !== undefined) return false;
  const fresh = db.upgradeFailures.get(token) === undefined;
  db.upgradeFailures.putSync(token, reason);
  if (fresh) db.featureUpgrade.putSync(STATE, { ...state, failed: state.failed + 1 });
  return true;
}

/** Inside a write transaction: a face is deleted; forget what the upgrade holds for it. */
export function forgetFace(db: Databases, token: string): void {
  const state = upgradeState(db);
  if (!state) return;
  const staged = db.faceFeaturesNext.get(token) !== undefined;
  const failed = db.upgradeFailures.get(token) !== undefined;
  if (staged) db.faceFeaturesNext.removeSync(token);
  if (failed) db.upgradeFailures.removeSync(token);
  if (staged || failed) {
    db.featureUpgrade.putSync(STATE, { ...state, staged: state.staged - (staged ? 1 : 0), failed: state.failed - (failed ? 1 : 0) });
  }
}

/** Inside a write transaction: the switch (see FaceStore.finishFeatureUpgrade). */
export function switchFeatures(db: Databases, to: string, now: number): FeatureSwitch {
  const state = upgradeState(db);
  if (!state || state.to !== to) return { switched: false, pending: [], faces: 0, failed: [] };
  const pending: FaceToken[] = [];
  const live: string[] = [];
  for (const { key, value } of db.faceMeta.getRange()) {
    if (value.deletedAt !== null) continue;
    live.push(key);
    if (db.faceFeaturesNext.doesExist(key) || db.upgradeFailures.doesExist(key)) continue;
    if (pending.length < MAX_PENDING) pending.push(key as FaceToken);
    else break;
  }
  if (pending.length > 0) return { switched: false, pending, faces: 0, failed: [] };
  const failed: FeatureSwitch['failed'] = [];
  let faces = 0;
  for (const token of live) {
    const meta = db.faceMeta.get(token)!;
    const staged = db.faceFeaturesNext.getBinary(token);
    if (staged) {
      db.faceFeatures.putSync(token, Buffer.from(staged));
      if (meta.modelVersion !== to) db.faceMeta.putSync(token, { ...meta, modelVersion: to });
      faces++;
    } else {
      failed.push({ faceToken: token as FaceToken, reason: db.upgradeFailures.get(token) ?? 'unknown' });
      db.faceFeatures.removeSync(token);
      db.faceMeta.putSync(token, { ...meta, modelVersion: '' });
    }
  }
  for (const key of Array.from(db.faceFeaturesNext.getKeys())) db.faceFeaturesNext.removeSync(key);
  for (const key of Array.from(db.upgradeFailures.getKeys())) db.upgradeFailures.removeSync(key);
  for (const { key } of Array.from(db.meta.getRange({ start: FEATURE_MODEL_PREFIX }))) {
    if (!key.startsWith(FEATURE_MODEL_PREFIX)) break;
    db.meta.removeSync(key);
  }
  if (faces > 0) db.meta.putSync(FEATURE_MODEL_PREFIX + to, faces);
  if (failed.length > 0) db.meta.putSync(FEATURE_MODEL_PREFIX, failed.length);
  db.featureUpgrade.removeSync(STATE);
  db.featureUpgrade.putSync(SERVED, to);
  db.featureUpgrade.putSync(LAST, { from: state.from, to, at: now, faces, failed: failed.slice(0, MAX_PENDING) } satisfies LastSwitch);
  return { switched: true, pending: [], faces, failed };
}
