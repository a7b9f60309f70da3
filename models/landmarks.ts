// 68-point landmarks with fr_landmark.onnx: the square face box, resized to
// 64x64 gray, /256 -> 136 values, (x, y) pairs normalised to the box
// (iBUG 300-W order). The reference code squares the detector box to its
// height around its centre and crops exactly that square, so we do too; a
// box reaching past the image edge is filled by replicating the edge rather
// than shifting the crop (which would misplace every point).
import type { Box, Point } from './engine.js';
import { rectMap, sampleInto, type Pyramid } from './image-ops.js';
import type { ScoredBox } from './nms.js';

export const LANDMARK_SIZE = 64;
export const LANDMARK_DIMS = Object.freeze([1, 1, LANDMARK_SIZE, LANDMARK_SIZE] as const);

/** The detector box squared to its height, around its centre (may extend past the image). */
export function squareBox(b: ScoredBox): Box {
  const side = b.y2 - b.y1;
  const cx = (b.x1 + b.x2) / 2;
  return { left: cx - side / 2, top: b.y1, width: side, height: side };
}

export function landmarkInput(pyr: Pyramid, box: Box, out: Float32Array): void {
  sampleInto(pyr, {
    width: LANDMARK_SIZE,
    height: LANDMARK_SIZE,
    map: rectMap(box.left, box.top, box.width, box.height, LANDMARK_SIZE, LANDMARK_SIZE),
    channels: 'gray',
    mean: [0],
    scale: [1 / 256],
    border: 'replicate',
  }, out);
}

export function decodeLandmarks(output: Float32Array, box: Box): Point[] {
  const points: Point[] = [];
  for (let i = 0; i < 68; i++) {
    points.push([box.left + output[2 * i]! * box.width, box.top + output[2 * i + 1]! * box.height]);
  }
  return points;
}
