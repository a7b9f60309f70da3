// Quality measures for admission checks: head pose (fr_pose.onnx), blur,
// brightness, size and completeness of the face region.
import type { Box, FaceQuality } from './engine.js';
import { grayPatch, rectMap, sampleInto, type Pyramid } from './image-ops.js';

export const POSE_SIZE = 224;
export const POSE_DIMS = Object.freeze([1, 3, POSE_SIZE, POSE_SIZE] as const);

/** ImageNet normalisation on 0..255 values: (x - 255*mean) / (255*std). */
export const IMAGENET_MEAN = Object.freeze([0.485 * 255, 0.456 * 255, 0.406 * 255] as const);
export const IMAGENET_SCALE = Object.freeze([1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255)] as const);

/** A box grown by `factor` around its centre. */
export function scaleBox(box: Box, factor: number): Box {
  const w = box.width * factor, h = box.height * factor;
  return { left: box.left + (box.width - w) / 2, top: box.top + (box.height - h) / 2, width: w, height: h };
}

/**
 * Pose model input: the face box grown by a quarter on each side (as the
 * reference code crops it), 224x224 RGB with ImageNet normalisation.
 * RGB, as Hopenet is trained; the reference JS actually feeds BGR (it
 * applies OpenCV's BGR2RGB to canvas RGBA), but with RGB the yaw follows a
 * landmark-based estimate more closely (correlation 0.87 vs 0.83 over the
 * shared photos).
 */
export function poseInput(pyr: Pyramid, box: Box, out: Float32Array): void {
  const crop = scaleBox(box, 1.5);
  sampleInto(pyr, {
    width: POSE_SIZE,
    height: POSE_SIZE,
    map: rectMap(crop.left, crop.top, crop.width, crop.height, POSE_SIZE, POSE_SIZE),
    channels: 'rgb',
    mean: IMAGENET_MEAN,
    scale: IMAGENET_SCALE,
    border: 'replicate',
  }, out);
}

/**
 * Hopenet-style angle: 66 bins of 3 degrees from -99; the angle is the
 * softmax expectation of the bin index, times 3, minus 99. Signs as the
 * model gives them; checked against the landmarks: yaw < 0 when the face
 * turns toward the image's right, roll > 0 when the eye line tilts
 * clockwise, pitch < 0 when looking down.
 */
export function binnedAngle(logits: Float32Array): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0, expectation = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = Math.exp(logits[i]! - max);
    sum += p;
    expectation += p * i;
  }
  return (expectation / sum) * 3 - 99;
}

/**
 * Blur is measured on the central 70% of the face box (eyes, nose, mouth;
 * hair and background excluded), resampled to a square of at most 96 px:
 * roughly the scale at which the feature model sees the face, so the value
 * does not depend on how many pixels a large face has. Smaller faces are
 * measured at their own resolution (never upsampled, which would read as blur).
 */
export const BLUR_REGION = 0.7;
export const BLUR_PATCH_MAX = 96;
/**
 * Blur effect of an in-focus face at that scale (median 0.44 over the shared
 * people/ photos); values at or below it map to 0. Resulting blur on those
 * 40 photos: originals 0.00-0.12 (median 0.00); after sharp.blur(2)
 * 0.23-0.49, blur(3) 0.46-0.64, blur(5) 0.64-0.76. Faces in the colour
 * scenes/ photos: 0.00-0.19 (the highest: a defocused background face).
 */
export const BLUR_SHARP_LEVEL = 0.45;

/**
 * Blur in [0,1], 0 = sharp: clamp((B - 0.45) / (1 - 0.45), 0, 1), where B is
 * the "blur effect" of Crete-Roffet et al. (2007, "The blur effect:
 * perception and estimation with a new no-reference perceptual blur metric")
 * of the face patch described above.
 */
export function faceBlur(pyr: Pyramid, box: Box, roll = 0): number {
  const region = scaleBox(box, BLUR_REGION);
  const size = Math.max(24, Math.min(BLUR_PATCH_MAX, Math.round(region.width)));
  const b = blurEffect(grayPatch(pyr, region.left, region.top, region.width, region.height, size, roll), size);
  return clamp01((b - BLUR_SHARP_LEVEL) / (1 - BLUR_SHARP_LEVEL));
}

/** Clamps to [0, 1]: ratios of sums can overshoot by a rounding step (1.0000000000000002). */
export const clamp01 = (x: number) => (x > 1 ? 1 : x > 0 ? x : 0);

/**
 * The blur effect B in [0,1] of a gray patch. For each direction,
 * D = |I(p) - I(p - 1)| are the neighbour differences of the patch and D_B
 * those of the patch low-passed by a 1x9 mean filter along that direction;
 * V = max(0, D - D_B) is the variation the low-pass removed.
 * B_dir = (sum D - sum V) / sum D and B = max over both directions. A sharp
 * image loses much of its variation to the filter (B low); an already
 * blurred one loses little (B near 1). B does not change with brightness or
 * contrast; a flat patch, with no variation at all, counts as 1.
 */
export function blurEffect(gray: Float32Array, size: number): number {
  const h = 9, half = h >> 1;
  // One line at a time, padded by replicating its ends, then low-passed.
  const line = new Float32Array(size + 2 * half);
  const blurred = new Float32Array(size);
  let worst = 0;
  for (let dir = 0; dir < 2; dir++) {
    // Step between neighbours along the direction, and between lines.
    const along = dir === 0 ? 1 : size;
    const across = dir === 0 ? size : 1;
    let sumD = 0, sumV = 0;
    for (let l = 0; l < size; l++) {
      const base = l * across;
      for (let i = 0; i < size; i++) line[i + half] = gray[base + i * along]!;
      for (let k = 0; k < half; k++) {
        line[k] = line[half]!;
        line[size + half + k] = line[size + half - 1]!;
      }
      // Centred 1x9 mean as a running sum.
      let s = 0;
      for (let k = 0; k < h; k++) s += line[k]!;
      for (let i = 0; i < size; i++) {
        blurred[i] = s / h;
        if (i + h < line.length) s += line[i + h]! - line[i]!;
      }
      for (let i = 1; i < size; i++) {
        const d = Math.abs(line[i + half]! - line[i + half - 1]!);
        sumD += d;
        sumV += Math.max(0, d - Math.abs(blurred[i]! - blurred[i - 1]!));
      }
    }
    worst = Math.max(worst, sumD > 1e-6 ? (sumD - sumV) / sumD : 1);
  }
  return worst;
}

/** Fraction of the box's area inside the image. */
export function completeness(box: Box, width: number, height: number): number {
  const w = Math.min(box.left + box.width, width) - Math.max(box.left, 0);
  const h = Math.min(box.top + box.height, height) - Math.max(box.top, 0);
  const inside = w > 0 && h > 0 ? w * h : 0;
  return box.width > 0 && box.height > 0 ? clamp01(inside / (box.width * box.height)) : 0;
}

/** Mean and standard deviation of the luma (BT.601) of the part of the box inside the image. */
export function lumaStats(pyr: Pyramid, box: Box): { mean: number; std: number } {
  const { width, height, rgb } = pyr.base;
  const x0 = Math.max(0, Math.floor(box.left)), x1 = Math.min(width, Math.ceil(box.left + box.width));
  const y0 = Math.max(0, Math.floor(box.top)), y1 = Math.min(height, Math.ceil(box.top + box.height));
  if (x1 <= x0 || y1 <= y0) return { mean: 0, std: 0 };
  // Large faces are subsampled to about 128x128 points; the statistics do not need more.
  const step = Math.max(1, Math.floor(Math.min(x1 - x0, y1 - y0) / 128));
  let n = 0, sum = 0, sq = 0;
  for (let y = y0; y < y1; y += step) {
    for (let x = x0, p = (y * width + x0) * 3; x < x1; x += step, p += 3 * step) {
      const l = 0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!;
      n++;
      sum += l;
      sq += l * l;
    }
  }
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(0, sq / n - mean * mean)) };
}

/** Everything but the pose. */
export function imageQuality(pyr: Pyramid, box: Box, roll = 0): Omit<FaceQuality, 'yaw' | 'pitch' | 'roll'> {
  // Brightness of the face itself: the central region (as for blur), not
  // the background the square takes in around a turned or tight face.
  const { mean, std } = lumaStats(pyr, scaleBox(box, BLUR_REGION));
  return {
    blur: faceBlur(pyr, box, roll),
    brightness: mean,
    brightnessStd: std,
    size: Math.min(box.width, box.height),
    completeness: completeness(box, pyr.base.width, pyr.base.height),
  };
}
