// Face detection with fr_detect.onnx (an Ultra-Light-Fast-Generic-Face-
// Detector RFB-320: fixed 320x240 RGB input, (x-127)/128, 4420 anchors
// already decoded to normalised corner boxes; anchors 10..256 px).
//
// One fixed-size pass cannot cover both ends of what we get:
// - enrolment crops where the face fills the frame: the whole image is
//   letterboxed into the input with a margin, so the face sits inside the
//   frame at the size of the detector's largest anchors;
// - small faces in large group photos, which one 320x240 pass shrinks below
//   the smallest anchor: the image is also scanned at finer scales in
//   overlapping 320x240 tiles, down to faces of `minFaceSize` pixels.
// All passes' boxes are merged with NMS. A small image gets the one global
// pass only, so enrolment pays for a single inference.
import { nms, type ScoredBox } from './nms.js';
import { cosSinDegrees, sampleInto, type Pyramid } from './image-ops.js';

export const DETECT_WIDTH = 320;
export const DETECT_HEIGHT = 240;
export const DETECT_DIMS = Object.freeze([1, 3, DETECT_HEIGHT, DETECT_WIDTH] as const);

export interface DetectOptions {
  /** Minimum face score (softmax "face" class). */
  scoreThreshold: number;
  /** IoU at which overlapping boxes are one face (within and across passes). */
  nmsIou: number;
  /** Fraction of the smaller box covered by another at which both are one face (e.g. a part of a face seen by a finer pass). */
  mergeContainment: number;
  /** Empty border around the whole image in the global pass, as a fraction of each side of the input. */
  globalMargin: number;
  /** Smallest face side, in image pixels, that the tiled passes should still find. */
  minFaceSize: number;
  /** Face side, in detector pixels, that `minFaceSize` is scaled to. */
  minFaceInput: number;
  /** Overlap of neighbouring tiles, in detector pixels: faces up to this size lie wholly inside some tile, and tiles report no larger faces. */
  tileOverlap: number;
  /** Most detector passes over one orientation of one image (the finest levels are dropped beyond it). */
  maxPasses: number;
}

/**
 * Measured on the shared photos: true faces score >= 0.97 (all but two
 * >= 0.999); the best non-face candidates 0.64 (a cartoon face on a shirt)
 * and less. A global margin of 5% is enough for the tight people/ crops; at
 * 10% the flat grey border let a 0.89 false box straddle it (scenes/happy.jpg).
 */
export const defaultDetectOptions: Readonly<DetectOptions> = Object.freeze({
  scoreThreshold: 0.7,
  nmsIou: 0.4,
  mergeContainment: 0.6,
  globalMargin: 0.05,
  minFaceSize: 40,
  minFaceInput: 20,
  tileOverlap: 64,
  // A 4096x4096 photo plans 129 passes; 160 keeps it whole and bounds a
  // 16,777,216 x 1 "image" (65,535 planned passes) to the same work.
  maxPasses: 160,
});

/** One 320x240 window of the image scaled by `scale`, at (ox, oy) in scaled pixels. */
export interface DetectPass {
  scale: number;
  ox: number;
  oy: number;
  /**
   * Largest box side (detector pixels) this pass reports. A tile pass only
   * answers for faces small enough to be missed by the next coarser level;
   * larger boxes there are mostly parts of a bigger face (a chin, an eye
   * region) that score as faces once magnified.
   */
  maxSide: number;
  /** Window edges that cut through the image (tile boundaries, not image borders). */
  cut: { left: boolean; top: boolean; right: boolean; bottom: boolean };
}

/**
 * Tile origins along one side, whole scaled pixels: tile scales are powers
 * of two, so a whole origin puts the tile on a pyramid level's pixel grid and
 * its input is a copy instead of a resampling (moving a tile by under half a
 * pixel changes nothing it can see).
 */
function tileOrigins(scaled: number, window: number, overlap: number): number[] {
  if (scaled <= window) return [Math.round((scaled - window) / 2)];
  const n = Math.ceil((scaled - overlap) / (window - overlap));
  return Array.from({ length: n }, (_, k) => Math.round((k * (scaled - window)) / (n - 1)));
}

/** The detector windows for an image of this size: one global pass, then tiles at finer scales. */
export function planPasses(width: number, height: number, options: DetectOptions): DetectPass[] {
  const fit = Math.min(DETECT_WIDTH / width, DETECT_HEIGHT / height);
  const global = fit * (1 - 2 * options.globalMargin);
  const noCut = { left: false, top: false, right: false, bottom: false };
  const passes: DetectPass[] = [
    { scale: global, ox: (width * global - DETECT_WIDTH) / 2, oy: (height * global - DETECT_HEIGHT) / 2, maxSide: Infinity, cut: noCut },
  ];
  // Finer levels, halving down from the target scale, while they are
  // clearly finer than the global pass; consecutive levels are then at most
  // 2.5x apart, so a face too big for one level's tiles (over tileOverlap)
  // is at least tileOverlap / 2.5 detector pixels at the next coarser one.
  const levels: number[] = [];
  for (let s = options.minFaceInput / options.minFaceSize; s >= global * 1.25; s /= 2) levels.unshift(s);
  for (const scale of levels) {
    const sw = width * scale, sh = height * scale;
    for (const oy of tileOrigins(sh, DETECT_HEIGHT, options.tileOverlap)) {
      for (const ox of tileOrigins(sw, DETECT_WIDTH, options.tileOverlap)) {
        passes.push({
          scale,
          ox,
          oy,
          maxSide: options.tileOverlap,
          cut: { left: ox > 0.5, top: oy > 0.5, right: ox + DETECT_WIDTH < sw - 0.5, bottom: oy + DETECT_HEIGHT < sh - 0.5 },
        });
      }
    }
  }
  return passes;
}

/** Writes the detector input for one pass (outside the image: mid-grey, which normalises to ~0). */
export function passInput(pyr: Pyramid, pass: DetectPass, out: Float32Array): void {
  const inv = 1 / pass.scale;
  sampleInto(pyr, {
    width: DETECT_WIDTH,
    height: DETECT_HEIGHT,
    map: [inv, 0, (pass.ox + 0.5) * inv - 0.5, 0, inv, (pass.oy + 0.5) * inv - 0.5],
    channels: 'rgb',
    mean: [127, 127, 127],
    scale: [1 / 128, 1 / 128, 1 / 128],
    border: 127,
  }, out);
}

/** Boxes of one pass above threshold, in image pixels, after NMS; drops boxes cut by a tile edge. */
export function decodePass(scores: Float32Array, boxes: Float32Array, pass: DetectPass, options: DetectOptions): ScoredBox[] {
  const found: ScoredBox[] = [];
  const edge = 2; // detector pixels
  const n = scores.length / 2;
  for (let i = 0; i < n; i++) {
    const score = scores[2 * i + 1]!;
    if (score < options.scoreThreshold) continue;
    const wx1 = boxes[4 * i]! * DETECT_WIDTH, wy1 = boxes[4 * i + 1]! * DETECT_HEIGHT;
    const wx2 = boxes[4 * i + 2]! * DETECT_WIDTH, wy2 = boxes[4 * i + 3]! * DETECT_HEIGHT;
    if (Math.max(wx2 - wx1, wy2 - wy1) > pass.maxSide) continue;
    // A face crossing a tile boundary is only partly visible here; an
    // overlapping tile or a coarser level sees it whole.
    if ((pass.cut.left && wx1 < edge) || (pass.cut.top && wy1 < edge)
      || (pass.cut.right && wx2 > DETECT_WIDTH - edge) || (pass.cut.bottom && wy2 > DETECT_HEIGHT - edge)) continue;
    found.push({
      x1: (wx1 + pass.ox) / pass.scale,
      y1: (wy1 + pass.oy) / pass.scale,
      x2: (wx2 + pass.ox) / pass.scale,
      y2: (wy2 + pass.oy) / pass.scale,
      score,
    });
  }
  return nms(found, { iou: options.nmsIou });
}

export type DetectorRun = (input: Float32Array) => Promise<{ scores: Float32Array; boxes: Float32Array }>;

/**
 * The image turned by `angle` degrees (clockwise on screen) about its
 * centre, as a canvas just large enough to hold it: canvas pixel (u, v) is
 * image point centre + R(angle) (u - canvasCentre). Angle 0 is the image itself.
 */
export interface TurnedFrame {
  angle: number;
  width: number;
  height: number;
  cos: number;
  sin: number;
}

export function turnedFrame(width: number, height: number, angle: number): TurnedFrame {
  const [cos, sin] = cosSinDegrees(angle);
  return {
    angle,
    width: Math.abs(width * cos) + Math.abs(height * sin),
    height: Math.abs(width * sin) + Math.abs(height * cos),
    cos,
    sin,
  };
}

/** Writes the detector input for one pass over a turned frame of the image. */
export function turnedPassInput(pyr: Pyramid, frame: TurnedFrame, pass: DetectPass, out: Float32Array): void {
  if (frame.angle === 0) return passInput(pyr, pass, out);
  const inv = 1 / pass.scale;
  const { cos: c, sin: s } = frame;
  // Detector pixel -> canvas pixel centre (as passInput), then canvas -> image.
  const bu = (pass.ox + 0.5) * inv - 0.5 + 0.5 - frame.width / 2;
  const bv = (pass.oy + 0.5) * inv - 0.5 + 0.5 - frame.height / 2;
  const W = pyr.base.width, H = pyr.base.height;
  sampleInto(pyr, {
    width: DETECT_WIDTH,
    height: DETECT_HEIGHT,
    map: [c * inv, -s * inv, c * bu - s * bv + W / 2 - 0.5, s * inv, c * inv, s * bu + c * bv + H / 2 - 0.5],
    channels: 'rgb',
    mean: [127, 127, 127],
    scale: [1 / 128, 1 / 128, 1 / 128],
    border: 127,
  }, out);
}

/** A detector box as the landmark model's square crop, in image coordinates. */
export interface Candidate extends ScoredBox {
  cx: number;
  cy: number;
  side: number;
  angle: number;
}

/** Thrown between detector passes once the caller's signal is aborted. */
export type PassGuard = () => void;

/**
 * Face candidates of the image turned by `angle`, best score first; with
 * `near`, only from the passes that could see one of those faces (a second
 * view of faces already found, not a search of the whole image). `input` is
 * the detector input buffer to fill for each pass (a caller's, to reuse). At most
 * `options.maxPasses` detector passes: on an image so large or so elongated
 * that the plan is longer, the finest tile levels are left out (the smallest
 * faces are not searched) rather than the work growing without bound.
 */
export async function detectCandidates(pyr: Pyramid, run: DetectorRun, options: DetectOptions, angle = 0, guard: PassGuard = () => {},
  near?: readonly FaceRegion[], input = new Float32Array(3 * DETECT_WIDTH * DETECT_HEIGHT)): Promise<Candidate[]> {
  const frame = turnedFrame(pyr.base.width, pyr.base.height, angle);
  let passes = capPasses(planPasses(frame.width, frame.height, options), options.maxPasses);
  if (near) passes = passes.filter((pass) => near.some((region) => passSees(frame, pass, region, pyr.base.width, pyr.base.height)));
  const all: ScoredBox[] = [];
  for (const pass of passes) {
    guard();
    turnedPassInput(pyr, frame, pass, input);
    const { scores, boxes } = await run(input);
    all.push(...decodePass(scores, boxes, pass, options));
  }
  const W = pyr.base.width, H = pyr.base.height;
  return nms(all, { iou: options.nmsIou, containment: options.mergeContainment }).map((b) => {
    // Square to the box's height around its centre (as the landmark model
    // was trained), centre turned back into the image.
    const u = (b.x1 + b.x2) / 2 - frame.width / 2, v = (b.y1 + b.y2) / 2 - frame.height / 2;
    const cx = frame.cos * u - frame.sin * v + W / 2, cy = frame.sin * u + frame.cos * v + H / 2;
    const side = b.y2 - b.y1;
    return { cx, cy, side, angle, score: b.score, x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2 };
  });
}

/** A face already found, in image pixels: centre and side of its square. */
export interface FaceRegion {
  cx: number;
  cy: number;
  side: number;
}

/**
 * Whether a pass over a turned frame could report the face in `region`: its
 * window overlaps the face's extent in the frame and the face is small enough
 * for the pass (tile passes report only small faces, see DetectPass.maxSide).
 * A pass that cannot report the face adds no candidate for it, so leaving it
 * out changes nothing about that face.
 */
export function passSees(frame: TurnedFrame, pass: DetectPass, region: FaceRegion, imageWidth: number, imageHeight: number): boolean {
  // Image -> frame (canvas) coordinates: the inverse turn about the centres.
  const du = region.cx - imageWidth / 2, dv = region.cy - imageHeight / 2;
  const u = frame.cos * du + frame.sin * dv + frame.width / 2, v = -frame.sin * du + frame.cos * dv + frame.height / 2;
  const half = (region.side / 2) * (Math.abs(frame.cos) + Math.abs(frame.sin));
  // The pass's window in frame pixels.
  const x1 = pass.ox / pass.scale, y1 = pass.oy / pass.scale;
  const x2 = (pass.ox + DETECT_WIDTH) / pass.scale, y2 = (pass.oy + DETECT_HEIGHT) / pass.scale;
  if (u + half <= x1 || u - half >= x2 || v + half <= y1 || v - half >= y2) return false;
  // Detector boxes of a face vary around its square; a pass whose limit is
  // well below the face's size there never reports it.
  return 2 * half * pass.scale <= 2 * pass.maxSide;
}

/** The plan without its finest levels until it has at most `max` passes (the global pass always stays). */
export function capPasses(passes: DetectPass[], max: number): DetectPass[] {
  let kept = passes;
  while (kept.length > max) {
    const finest = Math.max(...kept.slice(1).map((p) => p.scale));
    kept = kept.filter((p, i) => i === 0 || p.scale !== finest);
  }
  return kept;
}
