// Pixel geometry shared by enrolment and image queries.
import type { Box } from '../../models/engine.js';
import type { Rect } from '../../storage/store.js';

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** The detector's box as the integer {left,top,right,bottom} FacePass reports, clipped to the image. */
export function boxToRect(box: Box, width: number, height: number): Rect {
  return {
    left: clamp(Math.round(box.left), 0, width),
    top: clamp(Math.round(box.top), 0, height),
    right: clamp(Math.round(box.left + box.width), 0, width),
    bottom: clamp(Math.round(box.top + box.height), 0, height),
  };
}

/** Intersection over union of two rects (0 when they do not meet). */
export function rectOverlap(a: Rect, b: Rect): number {
  const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  if (width <= 0 || height <= 0) return 0;
  const area = (r: Rect) => (r.right - r.left) * (r.bottom - r.top);
  const intersection = width * height;
  return intersection / (area(a) + area(b) - intersection);
}

export interface CropRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The face crop of /image/query?face_token (spec 图片下载): twice the rect's
 * width and height; horizontally centred on the rect; of the added height
 * 3/5 goes above and 2/5 below (so the centre moves up by 1/10 of the rect
 * height); clipped to the image. Never empty for a non-degenerate rect.
 */
export function faceCropRegion(rect: Rect, width: number, height: number): CropRegion {
  const w = rect.right - rect.left;
  const h = rect.bottom - rect.top;
  const left = clamp(Math.round(rect.left - w / 2), 0, width - 1);
  const right = clamp(Math.round(rect.right + w / 2), left + 1, width);
  const top = clamp(Math.round(rect.top - (3 / 5) * h), 0, height - 1);
  const bottom = clamp(Math.round(rect.bottom + (2 / 5) * h), top + 1, height);
  return { left, top, width: right - left, height: bottom - top };
}
