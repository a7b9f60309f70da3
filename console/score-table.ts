// The false-accept / false-reject measurement the README publishes ("Measured
// false accepts and rejects"), made by `npm run score-table` on the
// project's test photos. It is a measurement of one engine: the thresholds
// page shows it only when the server runs that same feature model, and
// otherwise says to measure again.

export interface ScoreRow {
  set: string;
  samePairs: number;
  differentPairs: number;
  /** Percent of same-person pairs below the threshold, at each measured threshold. */
  frr: Record<number, number>;
  /** Percent of different-person pairs at or above it. */
  far: Record<number, number>;
}

export const SCORE_TABLE = {
  featureModel: 'feature-87aacdfe5751',
  measured: '2026-12-01',
  thresholds: [70, 78],
  rows: [
    { set: 'original', samePairs: 80, differentPairs: 700, frr: { 70: 0, 78: 0 }, far: { 70: 0, 78: 0 } },
    { set: 'mirrored', samePairs: 160, differentPairs: 1400, frr: { 70: 0, 78: 0.6 }, far: { 70: 0, 78: 0 } },
    { set: 'brightness ×1.5', samePairs: 160, differentPairs: 1400, frr: { 70: 3.8, 78: 4.4 }, far: { 70: 0.1, 78: 0 } },
    { set: 'brightness ×0.5', samePairs: 160, differentPairs: 1400, frr: { 70: 0, 78: 0.6 }, far: { 70: 0, 78: 0 } },
    { set: 'turned 180°', samePairs: 160, differentPairs: 1400, frr: { 70: 100, 78: 100 }, far: { 70: 0.1, 78: 0 } },
  ] satisfies ScoreRow[],
} as const;
