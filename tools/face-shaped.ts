// Synthetic 512-d features "shaped like faces", for bench:search: identities
// with several noisy samples each, fitted to the cosines of the test photos
// (test/fixtures/faces/people) measured in the same run:
//
// - identity centre: a Gaussian with a power-law spectrum (variance of
//   component i ~ (i+1)^-alpha) plus a small common direction (weight w),
//   turned by a fixed random rotation (sign flips and a Walsh-Hadamard
//   transform) so no coordinate is special, normalised. alpha sets the
//   spread of different-person cosines (isotropic 512-d vectors meet at
//   sd 0.044, real face features at about twice that: fewer effective
//   dimensions), w their mean;
// - sample: centre + isotropic noise of norm sigma_s, normalised, with
//   sigma_s = sigma * exp(tau * z) per sample (some photos are worse than
//   others): sigma sets the median same-person cosine, tau its spread.
//
// Everything is a deterministic function of (identity, sample), so a
// vector can be made again instead of kept (1M float32 features = 2 GB).
// The fit targets the photos' statistics, not any index's recall.
export const DIM = 512;

export interface FaceShape {
  alpha: number;
  w: number;
  sigma: number;
  tau: number;
}

export interface CosineStats {
  n: number;
  mean: number;
  sd: number;
  median: number;
  p99: number;
  min: number;
  max: number;
}

export function cosineStats(xs: readonly number[]): CosineStats {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, mean, sd, median: q(0.5), p99: q(0.99), min: s[0]!, max: s[s.length - 1]! };
}

/** A small fast PRNG (mulberry32) seeded by a hash of (a, b). */
function prng(a: number, b: number): () => number {
  let s = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b + 0x632be5ab) | 0, 0xc2b2ae35);
  s = Math.imul(s ^ (s >>> 16), 0x7feb352d);
  s = (s ^ (s >>> 15)) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Roughly Gaussian (a sum of four uniforms, scaled to unit variance): cheap, and shape enough for synthetic faces. */
function gaussians(next: () => number, out: Float64Array): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] = (next() + next() + next() + next() - 2) * 1.7320508075688772;
  return out;
}

const SIGNS = (() => {
  const next = prng(7, 11);
  return Float64Array.from({ length: DIM }, () => (next() < 0.5 ? -1 : 1));
})();
const COMMON = (() => {
  const v = gaussians(prng(13, 17), new Float64Array(DIM));
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return v.map((x) => x / n);
})();

/** Random signs, then the (unnormalised) Walsh-Hadamard transform: an orthogonal map up to scale. */
function rotate(v: Float64Array): Float64Array {
  for (let i = 0; i < DIM; i++) v[i]! *= SIGNS[i]!;
  for (let h = 1; h < DIM; h *= 2) {
    for (let i = 0; i < DIM; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j]!;
        const b = v[j + h]!;
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
  return v;
}

function normalizeInto(v: Float64Array, out: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

export class FaceShapeModel {
  private readonly scale: Float64Array;
  private readonly tmp = new Float64Array(DIM);
  private readonly noise = new Float64Array(DIM);

  constructor(readonly shape: FaceShape) {
    const lambda = Float64Array.from({ length: DIM }, (_, i) => (i + 1) ** -shape.alpha);
    const total = lambda.reduce((a, b) => a + b, 0);
    // Unit expected norm, so w weighs the common direction against it.
    this.scale = lambda.map((l) => Math.sqrt(l / total));
  }

  /** The unit centre of identity `id`, as float64 (rotated, normalised). */
  private centre(id: number, out: Float64Array): Float64Array {
    gaussians(prng(id, -1), out);
    for (let i = 0; i < DIM; i++) out[i] = out[i]! * this.scale[i]!;
    rotate(out);
    let n = 0;
    for (let i = 0; i < DIM; i++) n += out[i]! * out[i]!;
    n = Math.sqrt(n);
    for (let i = 0; i < DIM; i++) out[i] = out[i]! / n + this.shape.w * COMMON[i]!;
    return out;
  }

  /** Sample `k` of identity `id`: a unit float32 feature. */
  sample(id: number, k: number, out = new Float32Array(DIM)): Float32Array {
    const c = this.centre(id, this.tmp);
    const next = prng(id, k);
    const z = gaussians(next, this.noise);
    const sigma = this.shape.sigma * Math.exp(this.shape.tau * z[0]!);
    gaussians(next, z);
    let n = 0;
    for (let i = 0; i < DIM; i++) n += z[i]! * z[i]!;
    const s = sigma / Math.sqrt(n);
    let cn = 0;
    for (let i = 0; i < DIM; i++) cn += c[i]! * c[i]!;
    const cs = 1 / Math.sqrt(cn);
    for (let i = 0; i < DIM; i++) c[i] = c[i]! * cs + s * z[i]!;
    return normalizeInto(c, out);
  }
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Same-identity and different-identity cosines of the model, over `pairs` pairs each. */
export function shapeCosines(model: FaceShapeModel, pairs: number, firstId = 1_000_000_000): { same: number[]; different: number[] } {
  const same: number[] = [];
  const different: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const id = firstId + 2 * i;
    const a = model.sample(id, 10);
    same.push(dot(a, model.sample(id, 11)));
    different.push(dot(a, model.sample(id + 1, 10)));
  }
  return { same, different };
}

function bisect(lo: number, hi: number, increasing: boolean, f: (x: number) => number, target: number, steps: number): number {
  for (let i = 0; i < steps; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target === increasing) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Fits the shape to the photos' cosine statistics: sigma and tau to the
 * same-person median and spread, alpha and w to the different-person spread
 * and mean (a few alternating rounds; each target moves the others little).
 */
export function fitFaceShape(photos: { same: CosineStats; different: CosineStats }, pairs = 400): FaceShape {
  const shape: FaceShape = { alpha: 0.5, w: 0.1, sigma: Math.sqrt(1 / photos.same.median - 1), tau: 0.2 };
  const stats = (s: FaceShape) => {
    const c = shapeCosines(new FaceShapeModel(s), pairs);
    return { same: cosineStats(c.same), different: cosineStats(c.different) };
  };
  for (let round = 0; round < 2; round++) {
    shape.sigma = bisect(0.05, 3, false, (sigma) => stats({ ...shape, sigma }).same.median, photos.same.median, 12);
    shape.tau = bisect(0, 1.5, true, (tau) => stats({ ...shape, tau }).same.sd, photos.same.sd, 10);
    shape.alpha = bisect(0, 2, true, (alpha) => stats({ ...shape, alpha }).different.sd, photos.different.sd, 10);
    shape.w = bisect(0, 0.6, true, (w) => stats({ ...shape, w }).different.mean, photos.different.mean, 8);
  }
  return shape;
}
