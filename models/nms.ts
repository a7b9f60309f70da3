// Non-maximum suppression over corner boxes, used within one detector pass
// and again to merge the passes of different scales and tiles.

export interface ScoredBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
}

export interface NmsOptions {
  /** Suppress a box whose IoU with a kept, higher-scoring box reaches this. */
  iou: number;
  /**
   * Also suppress when the intersection covers this fraction of the smaller
   * box. Faces do not nest, so a box mostly inside another is a duplicate
   * (typically a partial face seen by a tile or a coarser scale), even when
   * the IoU is low because the sizes differ.
   */
  containment?: number;
}

export function area(b: ScoredBox): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

function intersection(a: ScoredBox, b: ScoredBox): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

export function iou(a: ScoredBox, b: ScoredBox): number {
  const inter = intersection(a, b);
  return inter === 0 ? 0 : inter / (area(a) + area(b) - inter);
}

/** Greedy NMS: highest score first; returns the kept boxes, best first. */
export function nms<T extends ScoredBox>(boxes: readonly T[], options: NmsOptions): T[] {
  const sorted = boxes.filter((b) => area(b) > 0).sort((p, q) => q.score - p.score);
  const containment = options.containment ?? Infinity;
  const kept: T[] = [];
  for (const box of sorted) {
    const duplicate = kept.some((k) => {
      const inter = intersection(k, box);
      if (inter === 0) return false;
      return inter / (area(k) + area(box) - inter) >= options.iou || inter / Math.min(area(k), area(box)) >= containment;
    });
    if (!duplicate) kept.push(box);
  }
  return kept;
}
