// Inputs and output decoding of the attribute models: liveness, age,
// gender, expression and eye state. Crops, normalisations and class orders
// follow the reference JS code of faceplugin-face-recognition-js (lib/*.js)
// and its demo app, checked on the shared photos.
//
// Channel order: the reference JS reads canvas pixels as RGBA and feeds
// them as they are wherever the original (OpenCV, BGR) pipeline did not
// convert colours, i.e. it feeds RGB to models trained on BGR. Measured on
// the shared colour photos, liveness and age/gender behave as BGR models:
// with BGR input all 23 bbt faces get the right gender (21 with RGB) and
// every face of the colour scenes/ photos gets liveness >= 0.97 (RGB input
// puts five of them under 0.5). No spoof photos were available to check the
// other side of the liveness model. The expression model (7 FER-2013 classes; FER-2013 is grayscale)
// is fed luma in all three channels: its answers are then stable under
// small crop changes, and it names 5 of the 7 scenes/ expressions, against
// 3-4 with colour input.
import type { Box, Expression, Point } from './engine.js';
import { rotatedRectMap, sampleInto, type ChannelOrder, type Pyramid } from './image-ops.js';
import { IMAGENET_MEAN, IMAGENET_SCALE } from './quality.js';

export const LIVENESS_SIZE = 128;
export const AGE_GENDER_SIZE = 64;
export const EXPRESSION_SIZE = 224;
export const EYE_SIZE = 24;

/**
 * Every crop below is turned upright by the face's roll (from its
 * landmarks), so the models see an upright face whatever the photo's turn.
 *
 * The reference crop for liveness, age and gender: the box grown by
 * `factor` around its centre, but never larger than the image (the factor
 * shrinks instead) and shifted to lie inside it. The models were trained on
 * real context around the face, so padding is avoided where possible.
 */
export function contextCrop(box: Box, factor: number, width: number, height: number): Box {
  const f = Math.min((height - 1) / box.height, (width - 1) / box.width, factor);
  const w = box.width * f, h = box.height * f;
  const left = Math.min(Math.max(box.left + (box.width - w) / 2, 0), Math.max(0, width - 1 - w));
  const top = Math.min(Math.max(box.top + (box.height - h) / 2, 0), Math.max(0, height - 1 - h));
  return { left, top, width: w, height: h };
}

/** The box's content, turned upright by `roll` degrees about its centre, resampled to size x size. */
function crop(pyr: Pyramid, box: Box, roll: number, size: number, channels: ChannelOrder, mean: readonly number[], scale: readonly number[], out: Float32Array): void {
  sampleInto(pyr, { width: size, height: size, map: rotatedRectMap(box.left, box.top, box.width, box.height, roll, size, size), channels, mean, scale, border: 'replicate' }, out);
}

export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const e = Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i]! - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

// --- liveness: 2.7x context, 128x128 BGR, raw 0..255 values -----------------

export function livenessInput(pyr: Pyramid, box: Box, roll: number, out: Float32Array): void {
  crop(pyr, contextCrop(box, 2.7, pyr.base.width, pyr.base.height), roll, LIVENESS_SIZE, 'bgr', [0, 0, 0], [1, 1, 1], out);
}

/** Probability of "live": class 0 of the 3 (the demo app calls a face fake below 0.3). */
export function decodeLiveness(logits: Float32Array): number {
  return softmax(logits)[0]!;
}

// --- age and gender: 1.4x context, 64x64 BGR, ImageNet normalisation, SSR-Net

export function ageGenderInput(pyr: Pyramid, box: Box, roll: number, out: Float32Array): void {
  // The statistics stay in their RGB order on the B, G, R planes, as when a
  // BGR image is normalised with the usual constants in training (the
  // difference is small: either way 23/23 genders on the bbt photos).
  crop(pyr, contextCrop(box, 1.4, pyr.base.width, pyr.base.height), roll, AGE_GENDER_SIZE, 'bgr', IMAGENET_MEAN, IMAGENET_SCALE, out);
}

/** SSR-Net outputs, each of batch 1. */
export interface SsrOutputs {
  prob: [Float32Array, Float32Array, Float32Array];
  delta: [number, number, number];
  offset: [Float32Array, Float32Array, Float32Array];
}

export const SSR_OUTPUT_NAMES = {
  prob: ['prob_stage_1', 'prob_stage_2', 'prob_stage_3'],
  delta: ['stage1_delta_k', 'stage2_delta_k', 'stage3_delta_k'],
  offset: ['index_offset_stage1', 'index_offset_stage2', 'index_offset_stage3'],
} as const;

/**
 * SSR-Net soft stagewise regression (Yang et al. 2018), 3 stages of 3 bins,
 * lambda_local = lambda_d = 1: stage k contributes
 * sum_i (i + offset_k[i]) * p_k[i] / prod_{j<=k} (3 * (1 + delta_j)),
 * and the sum is scaled by V (101 years for age, 1 for gender).
 */
export function ssrMerge(o: SsrOutputs, v: number): number {
  let result = 0;
  let denominator = 1;
  for (let k = 0; k < 3; k++) {
    denominator *= 3 * (1 + o.delta[k]!);
    let stage = 0;
    for (let i = 0; i < 3; i++) stage += (i + o.offset[k]![i]!) * o.prob[k]![i]!;
    result += stage / denominator;
  }
  return result * v;
}

// --- expression: the face box, 224x224 luma x3 /255, FER-2013 class order --

/** Class order of fr_expression.onnx (FER-2013), as the demo app labels it. */
export const EXPRESSIONS: readonly Expression[] = Object.freeze(['angry', 'disgusted', 'fearful', 'happy', 'sad', 'surprised', 'neutral'] as const);

/** The square face box itself (the reference's 1.2x crop anchored at the box corner gives the same answers here). */
export function expressionInput(pyr: Pyramid, box: Box, roll: number, out: Float32Array): void {
  crop(pyr, box, roll, EXPRESSION_SIZE, 'gray3', [0], [1 / 255], out);
}

export function decodeExpression(logits: Float32Array): { expression: Expression; score: number } {
  const p = softmax(logits);
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return { expression: EXPRESSIONS[best]!, score: p[best]! };
}

// --- eyes: square around each eye from the landmarks, 24x24 gray /255 -------

/**
 * Square eye region, as the reference code builds it: centred on the mean
 * of the four lid points, 1.6x the corner-to-corner width of the eye.
 * `side` 'left' is the eye on the image's left (landmarks 36-41).
 */
export function eyeBox(landmarks: readonly Point[], side: 'left' | 'right'): Box {
  const [c0, c1, l0, l1, l2, l3] = side === 'left' ? [36, 39, 37, 38, 40, 41] : [42, 45, 43, 44, 46, 47];
  const cx = (landmarks[l0]![0] + landmarks[l1]![0] + landmarks[l2]![0] + landmarks[l3]![0]) / 4;
  const cy = (landmarks[l0]![1] + landmarks[l1]![1] + landmarks[l2]![1] + landmarks[l3]![1]) / 4;
  const corners = Math.hypot(landmarks[c1]![0] - landmarks[c0]![0], landmarks[c1]![1] - landmarks[c0]![1]);
  const size = Math.max(2, corners * 1.6);
  return { left: cx - size / 2, top: cy - size / 2, width: size, height: size };
}

export function eyeInput(pyr: Pyramid, box: Box, roll: number, out: Float32Array): void {
  crop(pyr, box, roll, EYE_SIZE, 'gray', [0], [1 / 255], out);
}

/** Probability that the eye is open: class 1 (the demo app reads class 0 winning as "Close"). */
export function decodeEyeOpen(logits: Float32Array): number {
  return softmax(logits)[1]!;
}
