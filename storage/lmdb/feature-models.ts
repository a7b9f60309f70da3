// How many live faces each feature model made, kept in the `meta` database
// ('featureModel:<searchModel>' -> count) by the same write transactions that
// add, delete and re-extract faces. It is the marker that lets a start-up
// know whether any stored feature comes from another model without reading
// every face record: O(models), not O(faces).
//
// Stores written before the counts existed have no 'featureModelsCounted'
// entry: they are counted once, when opened, and never again.
import type { Transaction } from 'lmdb';
import type { Databases } from './layout.js';

const PREFIX = 'featureModel:';
const COUNTED = 'featureModelsCounted';

/** Adds `delta` to the live faces of `model`; inside a write transaction. */
export function countFeatureModel(db: Databases, model: string, delta: number): void {
  const key = PREFIX + model;
  const next = (db.meta.get(key) ?? 0) + delta;
  if (next > 0) db.meta.putSync(key, next);
  else db.meta.removeSync(key);
}

/** Live faces per model of their feature (models with none are absent). */
export function featureModelCounts(db: Databases, transaction?: Transaction): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { key, value } of db.meta.getRange({ start: PREFIX, ...(transaction ? { transaction } : {}) })) {
    if (!key.startsWith(PREFIX)) break;
    // '' counts live faces kept without a feature (a model upgrade their photo failed).
    if (key.length > PREFIX.length) counts.set(key.slice(PREFIX.length), value);
  }
  return counts;
}

/** Counts a store that predates the counts (one full scan, once ever); inside the opening write transaction. */
export function ensureFeatureModelCounts(db: Databases): boolean {
  if (db.meta.get(COUNTED) !== undefined) return false;
  const counts = new Map<string, number>();
  for (const { value } of db.faceMeta.getRange()) {
    if (value.deletedAt === null) counts.set(value.modelVersion, (counts.get(value.modelVersion) ?? 0) + 1);
  }
  for (const [model, count] of counts) db.meta.putSync(PREFIX + model, count);
  db.meta.putSync(COUNTED, 1);
  return true;
}
