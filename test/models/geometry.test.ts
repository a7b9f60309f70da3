import { expect } from 'chai';
import type { Point } from '../../models/engine.js';
import {
  ALIGN_TEMPLATE, applySimilarity, estimateSimilarity, fivePoints, inverseMap, type Similarity,
} from '../../models/align.js';
import { iou, nms, type ScoredBox } from '../../models/nms.js';
import { decodePass, defaultDetectOptions, planPasses, DETECT_WIDTH, DETECT_HEIGHT, type DetectPass } from '../../models/detect.js';
import { squareBox } from '../../models/landmarks.js';
import { completeness } from '../../models/quality.js';

const box = (x1: number, y1: number, x2: number, y2: number, score: number): ScoredBox => ({ x1, y1, x2, y2, score });

describe('estimateSimilarity', () => {
  it('recovers a known rotation, scale and translation from exact points', () => {
    const truth: Similarity = { a: 1.3 * Math.cos(0.4), b: 1.3 * Math.sin(0.4), tx: -12.5, ty: 40 };
    const src: Point[] = [[10, 20], [80, 25], [45, 60], [20, 90], [70, 95]];
    const dst = src.map((p) => applySimilarity(truth, p));
    const t = estimateSimilarity(src, dst);
    for (const key of ['a', 'b', 'tx', 'ty'] as const) expect(t[key]).to.be.closeTo(truth[key], 1e-9);
  });

  it('is the least-squares fit when the points are noisy', () => {
    const truth: Similarity = { a: 0.8, b: -0.3, tx: 5, ty: -7 };
    const src: Point[] = [[0, 0], [100, 0], [50, 50], [10, 100], [90, 100]];
    const noise: Point[] = [[0.5, -0.3], [-0.4, 0.2], [0.1, 0.6], [-0.2, -0.5], [0.3, 0.1]];
    const dst = src.map((p, i): Point => {
      const q = applySimilarity(truth, p);
      return [q[0] + noise[i]![0], q[1] + noise[i]![1]];
    });
    const t = estimateSimilarity(src, dst);
    const residual = (s: Similarity) => src.reduce((sum, p, i) => {
      const q = applySimilarity(s, p);
      return sum + (q[0] - dst[i]![0]) ** 2 + (q[1] - dst[i]![1]) ** 2;
    }, 0);
    // Any perturbation of the solution fits worse.
    for (const d of [{ a: 1e-3 }, { b: 1e-3 }, { tx: 0.01 }, { ty: -0.01 }]) {
      expect(residual({ ...t, ...d })).to.be.greaterThan(residual(t));
    }
    expect(t.a).to.be.closeTo(truth.a, 0.01);
    expect(t.b).to.be.closeTo(truth.b, 0.01);
  });

  it('maps the five points of a template-shaped face onto the template', () => {
    const face = ALIGN_TEMPLATE.map(([x, y]): Point => [x * 2 + 100, y * 2 + 50]);
    const t = estimateSimilarity(face, ALIGN_TEMPLATE);
    face.forEach((p, i) => {
      const q = applySimilarity(t, p);
      expect(q[0]).to.be.closeTo(ALIGN_TEMPLATE[i]![0], 1e-9);
      expect(q[1]).to.be.closeTo(ALIGN_TEMPLATE[i]![1], 1e-9);
    });
  });

  it('rejects coincident source points', () => {
    expect(() => estimateSimilarity([[1, 1], [1, 1]], [[0, 0], [1, 1]])).to.throw(RangeError);
  });
});

describe('inverseMap', () => {
  it('samples the source point that the transform sends to each output pixel', () => {
    const t: Similarity = { a: 0.6, b: 0.2, tx: 3, ty: -4 };
    const [A, B, C, D, E, F] = inverseMap(t);
    for (const [i, j] of [[0, 0], [10, 5], [111, 111]] as const) {
      const src: Point = [A * i + B * j + C, D * i + E * j + F];
      const back = applySimilarity(t, src);
      expect(back[0]).to.be.closeTo(i, 1e-9);
      expect(back[1]).to.be.closeTo(j, 1e-9);
    }
  });
});

describe('fivePoints', () => {
  it('takes eye centres from the lids, the nose tip and the mean mouth corners', () => {
    const lm: Point[] = Array.from({ length: 68 }, (_, i): Point => [i, 100 + i]);
    const [le, re, nose, ml, mr] = fivePoints(lm);
    expect(le).to.deep.equal([(37 + 38 + 40 + 41) / 4, 100 + (37 + 38 + 40 + 41) / 4]);
    expect(re).to.deep.equal([(43 + 44 + 46 + 47) / 4, 100 + (43 + 44 + 46 + 47) / 4]);
    expect(nose).to.deep.equal([30, 130]);
    expect(ml).to.deep.equal([54, 154]);
    expect(mr).to.deep.equal([59, 159]);
  });
});

describe('nms', () => {
  it('keeps the best of overlapping boxes and leaves separate ones', () => {
    const kept = nms([box(0, 0, 10, 10, 0.8), box(1, 1, 11, 11, 0.9), box(50, 50, 60, 60, 0.7)], { iou: 0.4 });
    expect(kept.map((b) => b.score)).to.deep.equal([0.9, 0.7]);
  });

  it('keeps boxes whose overlap is under the IoU threshold', () => {
    const a = box(0, 0, 10, 10, 0.9), b = box(7, 0, 17, 10, 0.8);
    expect(iou(a, b)).to.be.closeTo(30 / 170, 1e-12);
    expect(nms([a, b], { iou: 0.4 })).to.have.length(2);
  });

  it('suppresses a small box inside a larger one only when containment is asked for', () => {
    const big = box(0, 0, 100, 100, 0.95), inner = box(10, 10, 40, 40, 0.99);
    expect(nms([big, inner], { iou: 0.4 })).to.have.length(2);
    expect(nms([big, inner], { iou: 0.4, containment: 0.6 }).map((b) => b.score)).to.deep.equal([0.99]);
  });

  it('drops empty boxes', () => {
    expect(nms([box(5, 5, 5, 9, 1)], { iou: 0.4 })).to.deep.equal([]);
  });
});

describe('planPasses', () => {
  it('runs one letterboxed pass over a small image, with a margin', () => {
    const passes = planPasses(150, 150, defaultDetectOptions);
    expect(passes).to.have.length(1);
    const p = passes[0]!;
    expect(150 * p.scale).to.be.closeTo(DETECT_HEIGHT * (1 - 2 * defaultDetectOptions.globalMargin), 1e-9);
    expect(p.ox).to.be.lessThan(0);
    expect(p.oy).to.be.lessThan(0);
  });

  it('adds overlapping tiles at finer scales for a large photo, covering all of it', () => {
    const [w, h] = [1366, 768];
    const passes = planPasses(w, h, defaultDetectOptions);
    expect(passes.length).to.be.greaterThan(1);
    const finest = Math.max(...passes.map((p) => p.scale));
    expect(finest).to.be.at.least(defaultDetectOptions.minFaceInput / defaultDetectOptions.minFaceSize - 1e-9);
    const tiles = passes.filter((p) => p.scale === finest);
    // Every scaled pixel lies in some tile, and neighbouring tiles overlap.
    for (const [x, y] of [[0, 0], [w * finest - 1, h * finest - 1], [w * finest / 2, h * finest / 3]] as const) {
      expect(tiles.some((t) => x >= t.ox && x < t.ox + DETECT_WIDTH && y >= t.oy && y < t.oy + DETECT_HEIGHT)).to.equal(true);
    }
    const xs = [...new Set(tiles.map((t) => t.ox))].sort((a, b) => a - b);
    for (let i = 1; i < xs.length; i++) expect(xs[i - 1]! + DETECT_WIDTH - xs[i]!).to.be.at.least(defaultDetectOptions.tileOverlap);
  });
});

describe('decodePass', () => {
  // Anchors as (score, x1, y1, x2, y2) in detector pixels.
  function outputs(anchors: [number, number, number, number, number][]) {
    const scores = new Float32Array(anchors.length * 2), boxes = new Float32Array(anchors.length * 4);
    anchors.forEach(([score, x1, y1, x2, y2], i) => {
      scores.set([1 - score, score], 2 * i);
      boxes.set([x1 / DETECT_WIDTH, y1 / DETECT_HEIGHT, x2 / DETECT_WIDTH, y2 / DETECT_HEIGHT], 4 * i);
    });
    return { scores, boxes };
  }
  const noCut = { left: false, top: false, right: false, bottom: false };

  it('keeps boxes over the threshold and maps them back to image pixels', () => {
    const pass: DetectPass = { scale: 0.5, ox: -10, oy: 20, maxSide: Infinity, cut: noCut };
    const { scores, boxes } = outputs([[0.9, 40, 40, 80, 90], [0.5, 200, 100, 240, 150]]);
    const found = decodePass(scores, boxes, pass, defaultDetectOptions);
    expect(found).to.have.length(1);
    const b = found[0]!;
    // (detector px + window origin) / scale
    [b.x1, b.y1, b.x2, b.y2].forEach((v, i) => expect(v).to.be.closeTo([60, 120, 140, 220][i]!, 1e-3));
    expect(b.score).to.be.closeTo(0.9, 1e-6);
  });

  it('drops boxes cut by an inner tile edge and faces larger than the tile answers for', () => {
    const pass: DetectPass = { scale: 1, ox: 100, oy: 0, maxSide: 64, cut: { left: true, top: false, right: true, bottom: false } };
    const { scores, boxes } = outputs([
      [0.99, 0, 50, 40, 100], // touches the cut left edge
      [0.99, 290, 50, 320, 100], // touches the cut right edge
      [0.99, 100, 20, 200, 150], // 130 px: left to a coarser level
      [0.99, 150, 0, 190, 50], // top edge is the image border: kept
    ]);
    const found = decodePass(scores, boxes, pass, defaultDetectOptions);
    expect(found.map((b) => Math.round(b.x1))).to.deep.equal([250]);
  });
});

describe('squareBox and completeness', () => {
  it('squares a detector box to its height around its centre', () => {
    expect(squareBox(box(10, 20, 50, 80, 1))).to.deep.equal({ left: 0, top: 20, width: 60, height: 60 });
  });

  it('measures the fraction of a box inside the image', () => {
    expect(completeness({ left: 0, top: 0, width: 10, height: 10 }, 100, 100)).to.equal(1);
    expect(completeness({ left: -5, top: 0, width: 10, height: 10 }, 100, 100)).to.equal(0.5);
    expect(completeness({ left: 95, top: 95, width: 10, height: 10 }, 100, 100)).to.equal(0.25);
    expect(completeness({ left: 200, top: 0, width: 10, height: 10 }, 100, 100)).to.equal(0);
  });
});
