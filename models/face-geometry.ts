// From a detector candidate to a face whose landmarks can be trusted, at any
// in-plane rotation. The landmark model (fr_landmark) and the detector were
// trained on upright faces: given a face turned by 90 or 180 degrees the
// landmark model still draws an upright face shape (a 90-degree-turned photo
// came out with roll -13 and was enrolled with a useless feature).
//
// So each candidate is looked at in the four quarter-turn orientations:
// 1. landmarks on the square crop turned by 0, 90, 180 and 270 degrees
//    (four runs of a model that takes a fraction of a millisecond);
// 2. each orientation's landmarks align a face crop as the feature model
//    would see it; the four crops go into one detector input as a 2x2 grid
//    (one detector run), and the detector's logit for each cell says how
//    much that alignment looks like an upright face. The best cell is the
//    orientation; its logit must also reach SECOND_LOOK_MIN_LOGIT, which is
//    what rejects candidates that are not faces at all (a building facade
//    scored 0.958 by the detector gets logit -1.8 here, real faces >= 9.5);
// 3. the landmarks are measured again on the crop turned by the measured
//    roll (so the model sees an upright face), averaging the crop and its
//    mirror image: the landmarks of a mirrored photo are then the mirror of
//    the landmarks of the photo, which is what makes yaw antisymmetric.
import type { Box, Point } from './engine.js';
import { cosSinDegrees, mapPoint, mirrorMap, rotatedRectMap, sampleInto, type Affine, type Pyramid } from './image-ops.js';
import { ALIGN_TEMPLATE, estimateSimilarity, fivePoints, inverseMap } from './align.js';
import { DETECT_HEIGHT, DETECT_WIDTH, type DetectorRun } from './detect.js';
import { LANDMARK_SIZE } from './landmarks.js';
import { rollFromLandmarks, wrapDegrees } from './head-pose.js';

/** A detector box, as the square crop the landmark model takes (centre, side) and the rotation of the detector pass that found it. */
export interface FaceCandidate {
  cx: number;
  cy: number;
  side: number;
  /** Degrees: the detector pass ran on the image turned by this much. */
  angle: number;
  /** Detector probability. */
  score: number;
}

export interface VerifiedFace {
  box: Box;
  score: number;
  landmarks: Point[];
  /** The quarter-turn orientation (degrees, added to the pass angle) whose alignment looked most like a face. */
  orientation: number;
  /** In-plane rotation measured from the final landmarks, (-180, 180]. */
  roll: number;
  /** The second look's detector logit for that orientation. */
  secondLook: number;
}

export type LandmarkRun = (input: Float32Array) => Promise<Float32Array>;

/**
 * Minimum logit ln(p/(1-p)) of the second look (p >= 0.982). Measured on the
 * test photos: every real face, also greyscale, contrast x0.5..x3,
 * brightness x0.6..x1.6 and turned copies, 9.5 or more; the facade "faces"
 * of scenes/happy.jpg -1.8.
 */
export const SECOND_LOOK_MIN_LOGIT = 4;
/**
 * A second look at least this sure (p >= 0.9997) settles the face; a weaker
 * one makes the engine also search the turned image for a better view.
 */
export const SECOND_LOOK_SURE_LOGIT = 8;

/** The 68-point index of each point's mirror image (iBUG 300-W). */
export const MIRROR_INDEX: readonly number[] = Object.freeze([
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, // jaw
  26, 25, 24, 23, 22, 21, 20, 19, 18, 17, // brows
  27, 28, 29, 30, 35, 34, 33, 32, 31, // nose
  45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, // eyes
  54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, // outer lips
  64, 63, 62, 61, 60, 67, 66, 65, // inner lips
]);

const QUARTERS = [0, 90, 180, 270] as const;
/** Grid cells of the second look: 2x2 cells of 160x120 detector pixels. */
const CELL_W = DETECT_WIDTH / 2, CELL_H = DETECT_HEIGHT / 2;
/** Side, in detector pixels, of the ArcFace 112 crop drawn into a cell. */
const CELL_FACE = 96;

export class FaceGeometry {
  // Buffers reused by every crop of this instance (one detect() call):
  // a megabyte per second look otherwise, and the collector's time with it.
  private readonly landmarkInput = new Float32Array(LANDMARK_SIZE * LANDMARK_SIZE);
  private readonly cellInput = new Float32Array(3 * CELL_FACE * CELL_FACE);

  /** `detectorInput`: the detector input buffer to reuse for the second looks (default one of its own). */
  constructor(private readonly landmarkRun: LandmarkRun, private readonly detectorRun: DetectorRun,
    private readonly detectorInput = new Float32Array(3 * DETECT_WIDTH * DETECT_HEIGHT)) {}

  /** Landmarks in image coordinates from the square crop of (cx, cy, side) turned by `angle`. */
  async landmarksAt(pyr: Pyramid, cx: number, cy: number, side: number, angle: number, mirrored = false): Promise<Point[]> {
    const map = rotatedRectMap(cx - side / 2, cy - side / 2, side, side, angle, LANDMARK_SIZE, LANDMARK_SIZE);
    const input = this.landmarkInput;
    sampleInto(pyr, {
      width: LANDMARK_SIZE,
      height: LANDMARK_SIZE,
      map: mirrored ? mirrorMap(map, LANDMARK_SIZE) : map,
      channels: 'gray',
      mean: [0],
      scale: [1 / 256],
      border: 'replicate',
    }, input);
    const out = await this.landmarkRun(input);
    const points: Point[] = new Array(68);
    for (let i = 0; i < 68; i++) {
      // Output is normalised to the crop; a mirrored crop's point i is the
      // mirror of point MIRROR_INDEX[i] of the unmirrored crop.
      const u = out[2 * i]! * LANDMARK_SIZE, v = out[2 * i + 1]! * LANDMARK_SIZE;
      if (mirrored) points[MIRROR_INDEX[i]!] = mapPoint(map, LANDMARK_SIZE - u, v);
      else points[i] = mapPoint(map, u, v);
    }
    return points;
  }

  /** Mean of the landmarks of the crop and of its mirror image (mirror-equivariant by construction). */
  async symmetricLandmarks(pyr: Pyramid, cx: number, cy: number, side: number, angle: number): Promise<Point[]> {
    const [a, b] = [await this.landmarksAt(pyr, cx, cy, side, angle), await this.landmarksAt(pyr, cx, cy, side, angle, true)];
    return a.map((p, i) => [(p[0] + b[i]![0]) / 2, (p[1] + b[i]![1]) / 2]);
  }

  /**
   * Detector logit of each landmark set's aligned face, all four in one
   * detector run. A cell's logit is the best among boxes centred in the cell
   * near where the face was drawn, of about the face's size.
   */
  async secondLook(pyr: Pyramid, shapes: readonly Point[][]): Promise<number[]> {
    // Zero is mid-grey after the detector's (x-127)/128.
    const input = this.detectorInput.fill(0);
    const k = CELL_FACE / 112;
    shapes.forEach((landmarks, cell) => {
      const ox = (cell % 2) * CELL_W + (CELL_W - CELL_FACE) / 2, oy = Math.floor(cell / 2) * CELL_H + (CELL_H - CELL_FACE) / 2;
      const src = fivePoints(landmarks).map(([x, y]): Point => [x - 0.5, y - 0.5]);
      const t = estimateSimilarity(src, ALIGN_TEMPLATE.map(([x, y]): Point => [x * k, y * k]));
      sampleCell(pyr, inverseMap(t), Math.round(ox), Math.round(oy), input, this.cellInput);
    });
    const { scores, boxes } = await this.detectorRun(input);
    const best = shapes.map(() => -Infinity);
    for (let i = 0; i < scores.length / 2; i++) {
      const x1 = boxes[4 * i]! * DETECT_WIDTH, y1 = boxes[4 * i + 1]! * DETECT_HEIGHT;
      const x2 = boxes[4 * i + 2]! * DETECT_WIDTH, y2 = boxes[4 * i + 3]! * DETECT_HEIGHT;
      const mx = (x1 + x2) / 2, my = (y1 + y2) / 2, h = y2 - y1;
      const cell = (mx >= CELL_W ? 1 : 0) + (my >= CELL_H ? 2 : 0);
      if (cell >= shapes.length) continue;
      const ccx = (cell % 2) * CELL_W + CELL_W / 2, ccy = Math.floor(cell / 2) * CELL_H + CELL_H / 2;
      if (Math.abs(mx - ccx) > CELL_FACE * 0.3 || Math.abs(my - ccy) > CELL_FACE * 0.35 || h < CELL_FACE * 0.5 || h > CELL_FACE * 1.6) continue;
      const logit = Math.log(Math.max(scores[2 * i + 1]!, 1e-30) / Math.max(scores[2 * i]!, 1e-30));
      if (logit > best[cell]!) best[cell] = logit;
    }
    return best;
  }

  /** The candidate as a face, or null when no orientation of it looks like a face. */
  async verify(pyr: Pyramid, c: FaceCandidate): Promise<VerifiedFace | null> {
    // Each orientation's first landmarks come from the detector's square,
    // which fits a turned face badly; they are taken again on the crop they
    // imply before the second look compares the orientations.
    const shapes: Point[][] = [];
    for (const q of QUARTERS) {
      const first = await this.landmarksAt(pyr, c.cx, c.cy, c.side, c.angle + q);
      const crop = canonicalCrop(first);
      shapes.push(await this.landmarksAt(pyr, crop.cx, crop.cy, crop.side, crop.roll));
    }
    const logits = await this.secondLook(pyr, shapes);
    let k = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[k]!) k = i;
    if (!(logits[k]! >= SECOND_LOOK_MIN_LOGIT)) return null;
    // Refine: the crop is re-made from the landmarks (the square the
    // detector would draw on the upright face, turned by the measured roll),
    // so the landmark model sees an upright face framed as in training, and
    // a turned photo gets the same crop as the upright one; once more when
    // that moved the crop.
    let crop = canonicalCrop(shapes[k]!);
    let landmarks = await this.symmetricLandmarks(pyr, crop.cx, crop.cy, crop.side, crop.roll);
    let next = canonicalCrop(landmarks);
    if (Math.abs(wrapDegrees(next.roll - crop.roll)) > 3 || Math.hypot(next.cx - crop.cx, next.cy - crop.cy) > 0.05 * crop.side
      || Math.abs(next.side - crop.side) > 0.05 * crop.side) {
      crop = next;
      landmarks = await this.symmetricLandmarks(pyr, crop.cx, crop.cy, crop.side, crop.roll);
      next = canonicalCrop(landmarks);
    }
    return {
      box: { left: crop.cx - crop.side / 2, top: crop.cy - crop.side / 2, width: crop.side, height: crop.side },
      score: c.score,
      landmarks,
      orientation: wrapDegrees(c.angle + QUARTERS[k]!),
      roll: next.roll,
      secondLook: logits[k]!,
    };
  }
}

/**
 * Where the detector's square sits on an upright face, relative to the
 * landmarks, in units of the eye-to-mouth distance h (measured on the 69
 * upright faces of the test photos: centre 0.41 h below the eyes' midpoint,
 * horizontal offset 0.03 h taken as 0 for symmetry, side 2.79 h, range
 * 2.1-3.8 h). The eye-to-mouth distance changes little with yaw.
 */
export const CROP_BELOW_EYES = 0.41;
export const CROP_SIDE = 2.79;

export interface TurnedCrop {
  cx: number;
  cy: number;
  side: number;
  roll: number;
}

/** The landmark crop of a face from its landmarks: the detector's square, turned by the face's roll. */
export function canonicalCrop(landmarks: readonly Point[]): TurnedCrop {
  const mean = (idx: readonly number[]): Point => [
    idx.reduce((t, i) => t + landmarks[i]![0], 0) / idx.length,
    idx.reduce((t, i) => t + landmarks[i]![1], 0) / idx.length,
  ];
  const a = mean([36, 37, 38, 39, 40, 41]), b = mean([42, 43, 44, 45, 46, 47]), m = mean([48, 54]);
  const ex = (a[0] + b[0]) / 2, ey = (a[1] + b[1]) / 2;
  const h = Math.hypot(m[0] - ex, m[1] - ey);
  const roll = rollFromLandmarks(landmarks);
  const [c, s] = cosSinDegrees(roll);
  // "Below the eyes" in the face's frame is (0, 1) turned by the roll.
  return { cx: ex - s * CROP_BELOW_EYES * h, cy: ey + c * CROP_BELOW_EYES * h, side: CROP_SIDE * h, roll };
}

/** Writes one grid cell (CELL_FACE square at (x0, y0)) of the detector input, RGB (x-127)/128, black outside the image like the feature crop. */
function sampleCell(pyr: Pyramid, map: Affine, x0: number, y0: number, input: Float32Array, cell: Float32Array): void {
  sampleInto(pyr, { width: CELL_FACE, height: CELL_FACE, map, channels: 'rgb', mean: [127, 127, 127], scale: [1 / 128, 1 / 128, 1 / 128], border: 0 }, cell);
  const plane = DETECT_WIDTH * DETECT_HEIGHT, cellPlane = CELL_FACE * CELL_FACE;
  for (let ch = 0; ch < 3; ch++) {
    for (let j = 0; j < CELL_FACE; j++) {
      input.set(cell.subarray(ch * cellPlane + j * CELL_FACE, ch * cellPlane + (j + 1) * CELL_FACE), ch * plane + (y0 + j) * DETECT_WIDTH + x0);
    }
  }
}
