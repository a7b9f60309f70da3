// Head pose from the 68 landmarks: roll over the full circle from the eye
// line, yaw and pitch by fitting a mirror-symmetric 3-D mean face to six
// landmarks with a scaled-orthographic camera (weak-perspective PnP).
//
// Why not the pose model (fr_pose, Hopenet): its bins end at +-99 degrees,
// so roll cannot say "upside down"; a mirror image did not give the opposite
// yaw (11.8 vs -23.1 on scenes/happy.jpg) and brightness x1.6 moved pitch by
// 23 degrees. A symmetric model fitted to mirror-symmetric landmarks (the
// landmark pass averages the crop and its mirror image, see
// face-geometry.ts) gives exactly opposite yaw and equal pitch for a mirror
// image, and landmarks move little with brightness. Measured numbers are in
// models/README.md.
import type { Point } from './engine.js';

/**
 * Mean-face points (x right, y up, z toward the camera), symmetric in x: nose
 * tip 30, chin 8, outer eye corners 36 and 45, mouth corners 48 and 54 (the
 * widely used model of Mallick's "Head Pose Estimation using OpenCV and
 * Dlib", in its own units).
 */
export const MEAN_FACE_3D: ReadonlyArray<readonly [index: number, x: number, y: number, z: number]> = Object.freeze([
  [30, 0, 0, 0],
  [8, 0, -330, -65],
  [36, -225, 170, -135],
  [45, 225, 170, -135],
  [48, -150, -150, -125],
  [54, 150, -150, -125],
]);

/** Degrees. Signs: yaw < 0 when the face turns toward the image's right; pitch < 0 looking down; roll > 0 when the eye line turns clockwise. */
export interface HeadPose {
  yaw: number;
  pitch: number;
  /** In (-180, 180]; 0 = upright, +-180 = upside down. */
  roll: number;
}

const DEG = 180 / Math.PI;

const meanOf = (pts: readonly Point[], idx: readonly number[]): Point => [
  idx.reduce((s, i) => s + pts[i]![0], 0) / idx.length,
  idx.reduce((s, i) => s + pts[i]![1], 0) / idx.length,
];

/** Wraps degrees into (-180, 180]. */
export function wrapDegrees(a: number): number {
  const r = ((a % 360) + 360) % 360;
  return r > 180 ? r - 360 : r;
}

/**
 * In-plane rotation of the face in image coordinates, in (-180, 180]: the
 * direction from the image-left eye's centre to the other eye's, measured
 * so that 0 is an upright face and +-180 an upside-down one. The landmark
 * pass labels points by face anatomy (36-41 is the face's right eye whatever
 * the rotation), so the angle covers the whole circle.
 */
export function rollFromLandmarks(landmarks: readonly Point[]): number {
  const a = meanOf(landmarks, [36, 37, 38, 39, 40, 41]);
  const b = meanOf(landmarks, [42, 43, 44, 45, 46, 47]);
  return wrapDegrees(Math.atan2(b[1] - a[1], b[0] - a[0]) * DEG);
}

/**
 * Yaw and pitch from the six landmarks of MEAN_FACE_3D, after turning the
 * points upright by `roll` (so yaw and pitch do not depend on the in-plane
 * rotation). Least squares for the 2x3 camera M (x = M X on centred
 * points), then its nearest pair of orthonormal rows; the face's forward
 * axis is their cross product.
 */
export function headPose(landmarks: readonly Point[]): HeadPose {
  const roll = rollFromLandmarks(landmarks);
  const c = Math.cos(-roll / DEG), s = Math.sin(-roll / DEG);
  const n = MEAN_FACE_3D.length;
  // Image points turned upright, y flipped to point up like the model's.
  const img = MEAN_FACE_3D.map(([i]) => {
    const [x, y] = landmarks[i]!;
    return [c * x - s * y, -(s * x + c * y)] as const;
  });
  const ix = img.reduce((t, p) => t + p[0], 0) / n, iy = img.reduce((t, p) => t + p[1], 0) / n;
  const mx = MEAN_FACE_3D.reduce((t, p) => t + p[1], 0) / n;
  const my = MEAN_FACE_3D.reduce((t, p) => t + p[2], 0) / n;
  const mz = MEAN_FACE_3D.reduce((t, p) => t + p[3], 0) / n;
  // Normal equations: M = (sum x X^T)(sum X X^T)^-1.
  const XX = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const xX = [[0, 0, 0], [0, 0, 0]];
  for (let k = 0; k < n; k++) {
    const X = [MEAN_FACE_3D[k]![1] - mx, MEAN_FACE_3D[k]![2] - my, MEAN_FACE_3D[k]![3] - mz];
    const x = [img[k]![0] - ix, img[k]![1] - iy];
    for (let r = 0; r < 3; r++) for (let q = 0; q < 3; q++) XX[r]![q]! += X[r]! * X[q]!;
    for (let r = 0; r < 2; r++) for (let q = 0; q < 3; q++) xX[r]![q]! += x[r]! * X[q]!;
  }
  const inv = invert3(XX);
  const M = xX.map((row) => [0, 1, 2].map((q) => row[0]! * inv[0]![q]! + row[1]! * inv[1]![q]! + row[2]! * inv[2]![q]!));
  const [r1, r2] = orthonormalRows(M[0]!, M[1]!);
  // Forward axis of the face (model +z) in camera coordinates.
  const f = [r1[2], r2[2], Math.sqrt(Math.max(0, 1 - r1[2] * r1[2] - r2[2] * r2[2]))] as const;
  const yaw = -Math.atan2(f[0], f[2]) * DEG;
  const pitch = Math.atan2(f[1], Math.hypot(f[0], f[2])) * DEG;
  return { yaw, pitch, roll };
}

/** Inverse of a 3x3 matrix (the mean face's scatter, which is positive definite). */
function invert3(m: number[][]): number[][] {
  const at = (r: number, c: number) => m[r]![c]!;
  const cof = (r: number, c: number) => {
    const rs = [0, 1, 2].filter((x) => x !== r), cs = [0, 1, 2].filter((x) => x !== c);
    const minor = at(rs[0]!, cs[0]!) * at(rs[1]!, cs[1]!) - at(rs[0]!, cs[1]!) * at(rs[1]!, cs[0]!);
    return (r + c) % 2 === 0 ? minor : -minor;
  };
  const det = at(0, 0) * cof(0, 0) + at(0, 1) * cof(0, 1) + at(0, 2) * cof(0, 2);
  // inverse = adjugate / det; the adjugate is the transposed cofactor matrix.
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => cof(c, r) / det));
}

/**
 * The two orthonormal rows nearest to (u, v) that stay symmetric in u and v:
 * normalise both, then turn each away from the other by half the excess of
 * their angle over 90 degrees (the polar factor of the 2x3 matrix).
 */
function orthonormalRows(u: number[], v: number[]): [[number, number, number], [number, number, number]] {
  const norm = (w: number[]) => {
    const l = Math.hypot(w[0]!, w[1]!, w[2]!);
    return l > 0 ? w.map((x) => x / l) : [0, 0, 0];
  };
  const a = norm(u), b = norm(v);
  const sum = norm(a.map((x, k) => x + b[k]!)), diff = norm(a.map((x, k) => x - b[k]!));
  // a and b are symmetric about sum; orthonormal rows at +-45 degrees from it.
  const h = Math.SQRT1_2;
  const r1 = sum.map((x, k) => h * (x + diff[k]!)), r2 = sum.map((x, k) => h * (x - diff[k]!));
  return [r1 as [number, number, number], r2 as [number, number, number]];
}
