// The one score scale of every dialect: 0-100, a monotone, piecewise-linear
// map of the cosine similarity of two L2-normalised features.
//
//   cosine  -1    0     0.33   0.45   1
//   score    0   30     70     80     100
//
// The knots are placed by the measured distributions of the test photos
// (`npm run -s score-table`): every same-person pair scores above 70 and
// every different-person pair below it, and 78 (the spec's recognize
// default) sits a little higher, where a 1:N search over a larger gallery
// still keeps false accepts at zero on those photos. Being strictly
// increasing, the map has an exact inverse, so a minimum score can be
// turned into a minimum cosine before any feature is touched.

/** [cosine, score] knots, strictly increasing in both. */
const KNOTS: ReadonlyArray<readonly [cosine: number, score: number]> = [
  [-1, 0],
  [0, 30],
  [0.33, 70],
  [0.45, 80],
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
