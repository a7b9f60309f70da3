// Plain typed-array image operations for model preprocessing. Every model
// input is one affine resampling of the decoded image (a crop+resize is an
// axis-aligned affine, the face alignment a similarity), written straight
// into a planar float tensor with the model's normalisation. One tight loop
// instead of per-face sharp pipelines keeps preprocessing in microseconds.

/** Packed 8-bit RGB pixels, row-major (the shape of DecodedImage). */
export interface RgbPlane {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Output pixel (i, j) samples the source at (a*i + b*j + c, d*i + e*j + f), pixel centres at integers. */
export type Affine = readonly [a: number, b: number, c: number, d: number, e: number, f: number];

/** 'gray' writes one luma plane; 'gray3' writes luma into all three planes. */
export type ChannelOrder = 'rgb' | 'bgr' | 'gray' | 'gray3';

export interface SampleSpec {
  width: number;
  height: number;
  /** Output pixel -> source pixel coordinates in the full-resolution image. */
  map: Affine;
  channels: ChannelOrder;
  /** out = (value - mean[c]) * scale[c], value in 0..255 (gray and gray3 use index 0). */
  mean: readonly number[];
  scale: readonly number[];
  /** Value (0..255) for samples outside the image, or 'replicate' to clamp to the edge. */
  border: number | 'replicate';
}

/** Halves an image by 2x2 box averaging (odd last row/column dropped). */
export function halve(src: RgbPlane): RgbPlane {
  const width = Math.max(1, src.width >> 1);
  const height = Math.max(1, src.height >> 1);
  const out = new Uint8Array(width * height * 3);
  const s = src.rgb;
  const stride = src.width * 3;
  // A 1-pixel-wide source cannot be halved in that direction; reuse the pixel.
  const dx = src.width > 1 ? 3 : 0;
  const dy = src.height > 1 ? stride : 0;
  let o = 0;
  for (let y = 0; y < height; y++) {
    let p = 2 * y * stride;
    for (let x = 0; x < width; x++, p += 6) {
      for (let c = 0; c < 3; c++) {
        out[o++] = (s[p + c]! + s[p + dx + c]! + s[p + dy + c]! + s[p + dy + dx + c]! + 2) >> 2;
      }
    }
  }
  return { width, height, rgb: out };
}

/**
 * Successive 2x box-downsampled copies of one image, built on demand.
 * Bilinear sampling aliases when it skips source pixels; sampling from the
 * level whose pixels are at most ~2 output steps apart avoids that at the
 * cost of one pass over the image per level.
 */
export class Pyramid {
  private readonly levels: RgbPlane[];

  constructor(base: RgbPlane) {
    this.levels = [base];
  }

  get base(): RgbPlane {
    return this.levels[0]!;
  }

  /** Level k has 2^k times fewer pixels per side. */
  level(k: number): RgbPlane {
    while (this.levels.length <= k) this.levels.push(halve(this.levels[this.levels.length - 1]!));
    return this.levels[k]!;
  }

  /** Coarsest level whose pixel spacing keeps `step` (source px per output px) at most 2. */
  levelForStep(step: number): number {
    let k = 0;
    let plane = this.base;
    while (step / 2 ** k > 2 && plane.width >= 4 && plane.height >= 4) {
      k++;
      plane = this.level(k);
    }
    return k;
  }
}

/** Bilinear resampling of `pyr` into `out` (planar CHW, starting at `offset`). */
export function sampleInto(pyr: Pyramid, spec: SampleSpec, out: Float32Array, offset = 0): void {
  const [a0, b0, c0, d0, e0, f0] = spec.map;
  const step = Math.max(Math.hypot(a0, d0), Math.hypot(b0, e0));
  const k = pyr.levelForStep(step);
  const src = pyr.level(k);
  // Base pixel centre x maps to level coordinate (x + 0.5) / 2^k - 0.5.
  const inv = 1 / 2 ** k;
  const a = a0 * inv, b = b0 * inv, c = (c0 + 0.5) * inv - 0.5;
  const d = d0 * inv, e = e0 * inv, f = (f0 + 0.5) * inv - 0.5;

  const { width: W, height: H, rgb } = src;
  const stride = W * 3;
  const outW = spec.width, outH = spec.height, plane = outW * outH;
  const replicate = spec.border === 'replicate';
  const fill = replicate ? 0 : (spec.border as number);
  const gray = spec.channels === 'gray' || spec.channels === 'gray3';
  const gray3 = spec.channels === 'gray3';
  const bgr = spec.channels === 'bgr';
  const m0 = spec.mean[0]!, s0 = spec.scale[0]!;
  const m1 = gray ? 0 : spec.mean[1]!, s1 = gray ? 0 : spec.scale[1]!;
  const m2 = gray ? 0 : spec.mean[2]!, s2 = gray ? 0 : spec.scale[2]!;

  let v0 = 0, v1 = 0, v2 = 0;
  // Reads one source pixel (with border handling) into v0..v2, weighted by w.
  const acc = (x: number, y: number, w: number): void => {
    if (x < 0 || y < 0 || x >= W || y >= H) {
      if (!replicate) {
        v0 += fill * w; v1 += fill * w; v2 += fill * w;
        return;
      }
      x = x < 0 ? 0 : x >= W ? W - 1 : x;
      y = y < 0 ? 0 : y >= H ? H - 1 : y;
    }
    const p = y * stride + x * 3;
    v0 += rgb[p]! * w; v1 += rgb[p + 1]! * w; v2 += rgb[p + 2]! * w;
  };

  let o = offset;
  for (let j = 0; j < outH; j++) {
    let x = b * j + c;
    let y = e * j + f;
    for (let i = 0; i < outW; i++, o++, x += a, y += d) {
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const p = y0 * stride + x0 * 3, q = p + stride;
        v0 = rgb[p]! * w00 + rgb[p + 3]! * w10 + rgb[q]! * w01 + rgb[q + 3]! * w11;
        v1 = rgb[p + 1]! * w00 + rgb[p + 4]! * w10 + rgb[q + 1]! * w01 + rgb[q + 4]! * w11;
        v2 = rgb[p + 2]! * w00 + rgb[p + 5]! * w10 + rgb[q + 2]! * w01 + rgb[q + 5]! * w11;
      } else {
        v0 = v1 = v2 = 0;
        acc(x0, y0, w00); acc(x0 + 1, y0, w10); acc(x0, y0 + 1, w01); acc(x0 + 1, y0 + 1, w11);
      }
      if (gray) {
        const l = (0.299 * v0 + 0.587 * v1 + 0.114 * v2 - m0) * s0;
        out[o] = l;
        if (gray3) out[o + plane] = out[o + 2 * plane] = l;
      } else {
        out[o] = ((bgr ? v2 : v0) - m0) * s0;
        out[o + plane] = (v1 - m1) * s1;
        out[o + 2 * plane] = ((bgr ? v0 : v2) - m2) * s2;
      }
    }
  }
}

/** Affine that maps an outW x outH output onto the source rectangle (continuous coordinates). */
export function rectMap(left: number, top: number, width: number, height: number, outW: number, outH: number): Affine {
  const sx = width / outW, sy = height / outH;
  // Output pixel centre i+0.5 lands at left + (i+0.5)*sx in continuous coordinates, minus 0.5 for pixel centres.
  return [sx, 0, left + 0.5 * sx - 0.5, 0, sy, top + 0.5 * sy - 0.5];
}

/** Luma (BT.601) of a source rectangle resampled to size x size, as 0..255 floats. */
export function grayPatch(pyr: Pyramid, left: number, top: number, width: number, height: number, size: number): Float32Array {
  const out = new Float32Array(size * size);
  sampleInto(pyr, { width: size, height: size, map: rectMap(left, top, width, height, size, size), channels: 'gray', mean: [0], scale: [1], border: 'replicate' }, out);
  return out;
}
