// Face alignment for the feature model: five points from the 68 landmarks
// are mapped onto the 112x112 ArcFace template by the least-squares
// similarity transform (Umeyama), and the face is resampled through it.
import type { Point } from './engine.js';
import { sampleInto, type Affine, type Pyramid } from './image-ops.js';

export const ALIGN_SIZE = 112;
export const FEATURE_DIMS = Object.freeze([1, 3, ALIGN_SIZE, ALIGN_SIZE] as const);

/** Eye centres, nose tip, mouth corners in the 112x112 crop (ArcFace / InsightFace template). */
export const ALIGN_TEMPLATE: readonly Point[] = Object.freeze([
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
]);

const mean = (pts: readonly Point[], i: readonly number[]): Point => [
  i.reduce((s, k) => s + pts[k]![0], 0) / i.length,
  i.reduce((s, k) => s + pts[k]![1], 0) / i.length,
];

/**
 * The template's five points from 68 iBUG landmarks, as the reference code
 * takes them: each eye centre is the mean of its four lid points (37,38,40,41
 * and 43,44,46,47, not the corners), the nose tip is 30, each mouth corner
 * the mean of the outer and inner corner (48+60, 54+64).
 */
export function fivePoints(landmarks: readonly Point[]): Point[] {
  if (landmarks.length !== 68) throw new RangeError(`expected 68 landmarks, got ${landmarks.length}`);
  return [
    mean(landmarks, [37, 38, 40, 41]),
    mean(landmarks, [43, 44, 46, 47]),
    landmarks[30]!,
    mean(landmarks, [48, 60]),
    mean(landmarks, [54, 64]),
  ];
}

/** x' = a*x - b*y + tx, y' = b*x + a*y + ty: rotation by atan2(b, a), scale hypot(a, b). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * Least-squares similarity mapping `src` onto `dst` (Umeyama 1991). In 2-D
 * with a proper rotation the SVD solution reduces to this closed form: with
 * both point sets centred, a = sum(s.d) / sum|s|^2 and b = sum(s x d) / sum|s|^2.
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  if (src.length !== dst.length || src.length < 2) throw new RangeError('need at least two point pairs of equal count');
  const n = src.length;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0]; sy += src[i]![1]; dx += dst[i]![0]; dy += dst[i]![1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - sx, py = src[i]![1] - sy;
    const qx = dst[i]![0] - dx, qy = dst[i]![1] - dy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (!(norm > 1e-12)) throw new RangeError('source points coincide');
  const a = dot / norm, b = cross / norm;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

/** Sampling map (output pixel -> source pixel) of the inverse of `t`. */
export function inverseMap(t: Similarity): Affine {
  const k = t.a * t.a + t.b * t.b;
  const A = t.a / k, B = t.b / k;
  return [A, B, -(A * t.tx + B * t.ty), -B, A, B * t.tx - A * t.ty];
}

/**
 * Writes the aligned 112x112 RGB face, (x-127)/128, for the feature model.
 * Landmarks are continuous coordinates (pixel edges at integers); the
 * template uses pixel centres, hence the half-pixel shift.
 */
export function alignedInput(pyr: Pyramid, landmarks: readonly Point[], out: Float32Array): Similarity {
  const src = fivePoints(landmarks).map(([x, y]): Point => [x - 0.5, y - 0.5]);
  const t = estimateSimilarity(src, ALIGN_TEMPLATE);
  sampleInto(pyr, {
    width: ALIGN_SIZE,
    height: ALIGN_SIZE,
    map: inverseMap(t),
    channels: 'rgb',
    mean: [127, 127, 127],
    scale: [1 / 128, 1 / 128, 1 / 128],
    // Black outside the image, like cv2.warpAffine's default the model was trained with.
    border: 0,
  }, out);
  return t;
}
