// The server's recognition thresholds (spec 阈值配置), on the 0-100 score
// scale of search/score.ts: kept in the store's settings, so they survive a
// restart, and cached here, so every compare and recognize reads them
// without a store round trip.
//
// An update names the values to change: a number in (0, 100) sets it, -1
// restores the default; an invalid one rejects the whole update (nothing
// changes) with ILLEGAL_ARGUMENT naming every invalid field.
import type { FaceStore } from '../../storage/store.js';
import { illegalArgument } from './errors.js';

export interface ThresholdValues {
  /** 1:N recognition; spec recommends 78. */
  recognize: number;
  /** 1:1 compare; spec recommends 70. */
  compare: number;
  /** Liveness, on 0-100 (the engine's probability times 100); spec recommends 50. */
  liveness: number;
}

export type ThresholdName = keyof ThresholdValues;
export const THRESHOLD_NAMES: readonly ThresholdName[] = ['recognize', 'compare', 'liveness'];

/** The spec's recommended values; where they sit on the measured score table is in the README. */
export const DEFAULT_THRESHOLDS: Readonly<ThresholdValues> = Object.freeze({ recognize: 78, compare: 70, liveness: 50 });

/** -1 restores the default. */
export const RESTORE_DEFAULT = -1;

const settingName = (name: ThresholdName) => `threshold.${name}`;

/** Whether `value` may be given for a threshold: in (0, 100), or -1. */
export const isThresholdValue = (value: number) => value === RESTORE_DEFAULT || (Number.isFinite(value) && value > 0 && value < 100);

export class Thresholds {
  private current: ThresholdValues;
  /** Updates run one after another, so the cache always equals the last write. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: FaceStore,
    stored: Record<string, number>,
  ) {
    this.current = { ...DEFAULT_THRESHOLDS };
    for (const name of THRESHOLD_NAMES) {
      const value = stored[settingName(name)];
      if (value !== undefined && isThresholdValue(value) && value !== RESTORE_DEFAULT) this.current[name] = value;
    }
  }

  static async open(store: FaceStore): Promise<Thresholds> {
    return new Thresholds(store, await store.getSettings());
  }

  /** The values in force. */
  get values(): ThresholdValues {
    return { ...this.current };
  }

  /** Applies the given changes all together and resolves the values then in force. */
  update(changes: Partial<Record<ThresholdName, number>>): Promise<ThresholdValues> {
    const invalid = THRESHOLD_NAMES.filter((name) => changes[name] !== undefined && !isThresholdValue(changes[name]!));
    if (invalid.length > 0) return Promise.reject(illegalArgument(...invalid));
    const run = this.queue.then(async () => {
      const settings: Record<string, number | null> = {};
      const next = { ...this.current };
      for (const name of THRESHOLD_NAMES) {
        const value = changes[name];
        if (value === undefined) continue;
        settings[settingName(name)] = value === RESTORE_DEFAULT ? null : value;
        next[name] = value === RESTORE_DEFAULT ? DEFAULT_THRESHOLDS[name] : value;
      }
      if (Object.keys(settings).length > 0) await this.store.putSettings(settings);
      this.current = next;
      return this.values;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
