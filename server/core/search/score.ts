// The one score scale of every dialect: 0-100, a monotone, piecewise-linear
// map of the cosine similarity of two L2-normalised features.
//
//   cosine  -1    0     0.33   0.36   1
//   score    0   30     70     78     100
//
// The knots are placed by the measured cosines of the test photos
// (`npm run -s score-table`, README "Scores and thresholds"): same-person
// pairs of the people photos lie at 0.38 and above, different-person pairs
// at 0.27 and below, so 70 (the spec's compare default) sits in the middle
// of that gap; 78 (the recognize default) sits higher, below the weakest
// true match of the group-photo faces (0.41) and well above their best
// impostor (0.27), because a 1:N search meets many impostors. Being strictly
// increasing, the map has an exact inverse, so a minimum score can be
// turned into a minimum cosine before any feature is touched.

/** [cosine, score] knots, strictly increasing in both. */
const KNOTS: ReadonlyArray<readonly [cosine: number, score: number]> = [
  [-1, 0],
  [0, 30],
  [0.33, 70],
  [0.36, 78],
  [1, 100],
];

function interpolate(x: number, from: 0 | 1, to: 0 | 1): number {
  const first = KNOTS[0]!;
  const last = KNOTS[KNOTS.length - 1]!;
  if (!(x > first[from])) return first[to];
  if (x >= last[from]) return last[to];
  for (let i = 1; i < KNOTS.length; i++) {
    const hi = KNOTS[i]!;
    if (x <= hi[from]) {
      const lo = KNOTS[i - 1]!;
      return lo[to] + ((x - lo[from]) / (hi[from] - lo[from])) * (hi[to] - lo[to]);
    }
  }
  return last[to];
}

/** Score in [0, 100] of a cosine similarity in [-1, 1] (clamped; NaN -> 0). */
export function scoreOfCosine(cosine: number): number {
  return interpolate(cosine, 0, 1);
}

/** The cosine whose score is `score` (clamped to [0, 100]): the exact inverse of scoreOfCosine. */
export function cosineOfScore(score: number): number {
  return interpolate(score, 1, 0);
}

/** The knots, for the README and the score-table tool. */
export const SCORE_KNOTS = KNOTS;
