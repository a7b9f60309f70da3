// The positional `qualityScores` list (spec 照片分析, [0]..[25]; the spec's
// example has 31 positions). Every position is filled from a measure the
// engine really makes, or left empty between its commas when nothing is
// behind it (README "SID dialect" documents each position and formula).
// Numbers are written with 4 decimals, as the example.
import type { Box, FaceAttributes, FaceQuality, Point } from '../../models/engine.js';

/** What one face gives: the stored faces of /face/get may lack landmarks, attributes and liveness. */
export interface MeasuredFace {
  box: Box;
  quality: FaceQuality;
  /** Detector confidence [0,1]; absent for a face not detected again. */
  score?: number;
  landmarks?: Point[];
  attributes?: FaceAttributes;
  liveness?: number;
}

/** Positions in the example list: [0]..[25] documented, [26]..[30] not. */
export const QUALITY_POSITIONS = 31;

/** Illumination [1] in this band counts as fully suitable for [0] (the spec's recommended range 0.2-0.8). */
const GOOD_LIGHT = [0.2, 0.8] as const;
/** Inner-lip gap / mouth width at which [6] mouth closed reaches 0. */
const OPEN_MOUTH_RATIO = 0.3;
/** Age bands of [13]: under 18 a child (1), under 60 middle-aged (2), else old (4). */
const CHILD_UNTIL = 18;
const OLD_FROM = 60;

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** [1]: mean luma of the face region, 0-1. */
export const illumination = (q: FaceQuality) => clamp01(q.brightness / 255);

/** [14]: 1 frontal, falling linearly to 0 at 90° of yaw or pitch. */
export const frontalness = (q: FaceQuality) => clamp01(1 - Math.max(Math.abs(q.yaw), Math.abs(q.pitch)) / 90);

/** [0]: sharpness x lighting fit x frontal-ness x completeness, each 0-1. */
export function overallQuality(q: FaceQuality): number {
  const light = illumination(q);
  const [low, high] = GOOD_LIGHT;
  const lightFit = light < low ? light / low : light > high ? (1 - light) / (1 - high) : 1;
  return clamp01((1 - q.blur) * clamp01(lightFit) * frontalness(q) * clamp01(q.completeness));
}

const distance = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/**
 * [6]: from the 68 landmarks (iBUG order): the mean gap between the inner
 * lips (61-67, 62-66, 63-65) over the mouth width (48-54); 1 when the lips
 * touch, 0 from a gap of 0.3 mouth widths.
 */
export function mouthClosed(landmarks: readonly Point[]): number | undefined {
  if (landmarks.length !== 68) return undefined;
  const p = (i: number) => landmarks[i]!;
  const width = distance(p(48), p(54));
  if (!(width > 0)) return undefined;
  const gap = (distance(p(61), p(67)) + distance(p(62), p(66)) + distance(p(63), p(65))) / 3;
  return clamp01(1 - gap / width / OPEN_MOUTH_RATIO);
}

export function ageBand(age: number): 1 | 2 | 4 {
  return age < CHILD_UNTIL ? 1 : age < OLD_FROM ? 2 : 4;
}

/** The values by position; undefined = not computed (left empty). */
export function qualityValues(face: MeasuredFace): Array<number | undefined> {
  const q = face.quality;
  const a = face.attributes;
  const values: Array<number | undefined> = new Array(QUALITY_POSITIONS).fill(undefined);
  values[0] = overallQuality(q);
  values[1] = illumination(q);
  // [2] mask, [3] occlusion: no model.
  values[4] = clamp01(1 - q.blur);
  // [5] glasses: no model.
  values[6] = face.landmarks ? mouthClosed(face.landmarks) : undefined;
  values[7] = face.score;
  // [8] empty in the spec; [9] sunglasses: no model.
  if (a) {
    values[10] = a.age;
    values[11] = a.gender === 'male' ? 1 : 2;
    // [12] nationality: no model.
    values[13] = ageBand(a.age);
    values[24] = a.eyes.left.score;
    values[25] = a.eyes.right.score;
  }
  values[14] = frontalness(q);
  // [15] ethnicity: no model.
  values[16] = q.pitch;
  values[17] = q.yaw;
  values[18] = q.roll;
  values[19] = Math.round(face.box.left);
  values[20] = Math.round(face.box.top);
  values[21] = Math.round(face.box.width);
  values[22] = Math.round(face.box.height);
  values[23] = face.liveness;
  // [26]..[30]: not documented by the spec.
  return values;
}

export function qualityScores(face: MeasuredFace): string {
  return qualityValues(face)
    .map((value) => (value === undefined || !Number.isFinite(value) ? '' : value.toFixed(4)))
    .join(',');
}
