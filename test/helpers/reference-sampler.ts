// The sampling of models/image-ops.ts written the plain way, in float64, one
// pixel at a time: what the WebAssembly kernels (models/resample/) must
// reproduce. Used only by tests.
import type { Affine, RgbPlane, SampleSpec } from '../../models/image-ops.js';

/** Bilinear sample of `plane` into planar floats, by the map in `plane`'s own coordinates. */
export function referenceSample(plane: RgbPlane, spec: Omit<SampleSpec, 'map'>, map: Affine): Float32Array {
  const { width: W, height: H, rgb } = plane;
  const outW = spec.width, outH = spec.height, n = outW * outH;
  const gray = spec.channels === 'gray' || spec.channels === 'gray3';
  const out = new Float32Array((spec.channels === 'gray' ? 1 : 3) * n);
  const at = (x: number, y: number, ch: number): number => {
    if (spec.border === 'replicate') {
      x = Math.min(W - 1, Math.max(0, x));
      y = Math.min(H - 1, Math.max(0, y));
    } else if (x < 0 || y < 0 || x >= W || y >= H) return spec.border;
    return rgb[(y * W + x) * 3 + ch]!;
  };
  const [a, b, c, d, e, f] = map;
  for (let j = 0; j < outH; j++) {
    for (let i = 0; i < outW; i++) {
      const x = a * i + b * j + c, y = d * i + e * j + f;
      const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
      const v = [0, 1, 2].map((ch) => (at(x0, y0, ch) * (1 - fx) + at(x0 + 1, y0, ch) * fx) * (1 - fy)
        + (at(x0, y0 + 1, ch) * (1 - fx) + at(x0 + 1, y0 + 1, ch) * fx) * fy);
      const k = j * outW + i;
      if (gray) {
        const lum = (0.299 * v[0]! + 0.587 * v[1]! + 0.114 * v[2]! - spec.mean[0]!) * spec.scale[0]!;
        out[k] = lum;
        if (spec.channels === 'gray3') out[k + n] = out[k + 2 * n] = lum;
      } else {
        const order = spec.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
        for (let p = 0; p < 3; p++) out[k + p * n] = (v[order[p]!]! - spec.mean[p]!) * spec.scale[p]!;
      }
    }
  }
  return out;
}

/** 2x2 box means, rounded, odd last row and column dropped (a 1-pixel side is kept). */
export function referenceHalve(src: RgbPlane): RgbPlane {
  const width = Math.max(1, src.width >> 1), height = Math.max(1, src.height >> 1);
  const rgb = new Uint8Array(width * height * 3);
  const px = (x: number, y: number, ch: number) => src.rgb[(Math.min(y, src.height - 1) * src.width + Math.min(x, src.width - 1)) * 3 + ch]!;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < 3; ch++) {
        rgb[(y * width + x) * 3 + ch] = (px(2 * x, 2 * y, ch) + px(2 * x + 1, 2 * y, ch) + px(2 * x, 2 * y + 1, ch) + px(2 * x + 1, 2 * y + 1, ch) + 2) >> 2;
      }
    }
  }
  return { width, height, rgb };
}
