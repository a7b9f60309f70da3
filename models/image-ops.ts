// Plain typed-array image operations for model preprocessing. Every model
// input is one affine resampling of the decoded image (a crop+resize is an
// axis-aligned affine, the face alignment a similarity), written straight
// into a planar float tensor with the model's normalisation: one tight loop
// per crop (well under a millisecond) instead of a sharp pipeline per face.

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
  const map: Affine = [a0 * inv, b0 * inv, (c0 + 0.5) * inv - 0.5, d0 * inv, e0 * inv, (f0 + 0.5) * inv - 0.5];
  if (map[1] === 0 && map[3] === 0 && map[0] > 0 && map[4] > 0) sampleAxisAligned(src, map, spec, out, offset);
  else sampleAffine(src, map, spec, out, offset);
}

/**
 * The channel layout and per-channel normalisation of a SampleSpec, read once
 * per call so the per-pixel loops work on plain locals (gray and gray3 use
 * only channel 0).
 */
function channelPlan(spec: SampleSpec) {
  const gray = spec.channels === 'gray' || spec.channels === 'gray3';
  return {
    gray,
    gray3: spec.channels === 'gray3',
    bgr: spec.channels === 'bgr',
    m0: spec.mean[0]!,
    s0: spec.scale[0]!,
    m1: gray ? 0 : spec.mean[1]!,
    s1: gray ? 0 : spec.scale[1]!,
    m2: gray ? 0 : spec.mean[2]!,
    s2: gray ? 0 : spec.scale[2]!,
  };
}

/** General affine (rotation, for alignment): per-pixel bilinear interpolation. */
function sampleAffine(src: RgbPlane, map: Affine, spec: SampleSpec, out: Float32Array, offset: number): void {
  const [a, b, c, d, e, f] = map;
  const W = src.width, H = src.height, rgb = src.rgb;
  const stride = W * 3;
  const outW = spec.width, outH = spec.height, plane = outW * outH;
  const replicate = spec.border === 'replicate';
  const fill = replicate ? 0 : (spec.border as number);
  const { gray, gray3, bgr, m0, s0, m1, s1, m2, s2 } = channelPlan(spec);

  // Everything below is plain locals (no closures: variables captured by a
  // closure live on the heap and slow the per-pixel path several times).
  let o = offset;
  for (let j = 0; j < outH; j++) {
    let x = b * j + c;
    let y = e * j + f;
    for (let i = 0; i < outW; i++, o++, x += a, y += d) {
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      let v0: number, v1: number, v2: number;
      if (x0 >= 0 && y0 >= 0 && x0 < W - 1 && y0 < H - 1) {
        const p = y0 * stride + x0 * 3, q = p + stride;
        v0 = rgb[p]! * w00 + rgb[p + 3]! * w10 + rgb[q]! * w01 + rgb[q + 3]! * w11;
        v1 = rgb[p + 1]! * w00 + rgb[p + 4]! * w10 + rgb[q + 1]! * w01 + rgb[q + 4]! * w11;
        v2 = rgb[p + 2]! * w00 + rgb[p + 5]! * w10 + rgb[q + 2]! * w01 + rgb[q + 5]! * w11;
      } else if (replicate) {
        const xa = x0 < 0 ? 0 : x0 >= W ? W - 1 : x0, xb = x0 + 1 < 0 ? 0 : x0 + 1 >= W ? W - 1 : x0 + 1;
        const ya = y0 < 0 ? 0 : y0 >= H ? H - 1 : y0, yb = y0 + 1 < 0 ? 0 : y0 + 1 >= H ? H - 1 : y0 + 1;
        const p00 = ya * stride + xa * 3, p10 = ya * stride + xb * 3, p01 = yb * stride + xa * 3, p11 = yb * stride + xb * 3;
        v0 = rgb[p00]! * w00 + rgb[p10]! * w10 + rgb[p01]! * w01 + rgb[p11]! * w11;
        v1 = rgb[p00 + 1]! * w00 + rgb[p10 + 1]! * w10 + rgb[p01 + 1]! * w01 + rgb[p11 + 1]! * w11;
        v2 = rgb[p00 + 2]! * w00 + rgb[p10 + 2]! * w10 + rgb[p01 + 2]! * w01 + rgb[p11 + 2]! * w11;
      } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
        v0 = v1 = v2 = fill;
      } else {
        // Straddling the edge: neighbours outside take the fill value.
        const inA = x0 >= 0, inB = x0 + 1 < W, in0 = y0 >= 0, in1 = y0 + 1 < H;
        const p = y0 * stride + x0 * 3, q = p + stride;
        v0 = v1 = v2 = 0;
        if (in0 && inA) { v0 += rgb[p]! * w00; v1 += rgb[p + 1]! * w00; v2 += rgb[p + 2]! * w00; } else { v0 += fill * w00; v1 += fill * w00; v2 += fill * w00; }
        if (in0 && inB) { v0 += rgb[p + 3]! * w10; v1 += rgb[p + 4]! * w10; v2 += rgb[p + 5]! * w10; } else { v0 += fill * w10; v1 += fill * w10; v2 += fill * w10; }
        if (in1 && inA) { v0 += rgb[q]! * w01; v1 += rgb[q + 1]! * w01; v2 += rgb[q + 2]! * w01; } else { v0 += fill * w01; v1 += fill * w01; v2 += fill * w01; }
        if (in1 && inB) { v0 += rgb[q + 3]! * w11; v1 += rgb[q + 4]! * w11; v2 += rgb[q + 5]! * w11; } else { v0 += fill * w11; v1 += fill * w11; v2 += fill * w11; }
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

/** One source row (starting at byte `base`) interpolated at the table's columns [from, to); index -1 reads `fill`. */
function interpolateRow(rgb: Uint8Array, base: number, xl: Int32Array, xr: Int32Array, wr: Float32Array, fill: number, dst: Float32Array, from: number, to: number): void {
  for (let i = from, o = from * 3; i < to; i++, o += 3) {
    const w1 = wr[i]!, w0 = 1 - w1, l = xl[i]!, r = xr[i]!;
    if (l >= 0 && r >= 0) {
      const pl = base + l, pr = base + r;
      dst[o] = rgb[pl]! * w0 + rgb[pr]! * w1;
      dst[o + 1] = rgb[pl + 1]! * w0 + rgb[pr + 1]! * w1;
      dst[o + 2] = rgb[pl + 2]! * w0 + rgb[pr + 2]! * w1;
    } else {
      const pl = base + l, pr = base + r;
      dst[o] = (l >= 0 ? rgb[pl]! : fill) * w0 + (r >= 0 ? rgb[pr]! : fill) * w1;
      dst[o + 1] = (l >= 0 ? rgb[pl + 1]! : fill) * w0 + (r >= 0 ? rgb[pr + 1]! : fill) * w1;
      dst[o + 2] = (l >= 0 ? rgb[pl + 2]! : fill) * w0 + (r >= 0 ? rgb[pr + 2]! : fill) * w1;
    }
  }
}

/**
 * Crops and resizes (no rotation): separable bilinear interpolation, each
 * needed source row interpolated horizontally once from precomputed column
 * indices and weights, then pairs of rows blended per output row. About 3x
 * fewer operations per output pixel than the general path.
 */
function sampleAxisAligned(src: RgbPlane, map: Affine, spec: SampleSpec, out: Float32Array, offset: number): void {
  const [a, , c, , e, f] = map;
  const W = src.width, H = src.height, rgb = src.rgb;
  const outW = spec.width, outH = spec.height, plane = outW * outH;
  const replicate = spec.border === 'replicate';
  const fill = replicate ? 0 : (spec.border as number);

  // Column table: left/right source index (-1 = outside, takes the fill value) and right weight.
  const xl = new Int32Array(outW), xr = new Int32Array(outW), wr = new Float32Array(outW);
  for (let i = 0; i < outW; i++) {
    const x = a * i + c;
    const x0 = Math.floor(x);
    wr[i] = x - x0;
    let l = x0, r = x0 + 1;
    if (replicate) {
      l = l < 0 ? 0 : l >= W ? W - 1 : l;
      r = r < 0 ? 0 : r >= W ? W - 1 : r;
    } else {
      if (l < 0 || l >= W) l = -1;
      if (r < 0 || r >= W) r = -1;
    }
    xl[i] = l * 3;
    xr[i] = r * 3;
  }

  const rowLen = outW * 3;
  const fillRow = new Float32Array(rowLen).fill(fill);
  // Horizontally interpolated source rows, reused while output rows advance.
  let rowA = new Float32Array(rowLen), rowB = new Float32Array(rowLen);
  let yA = -2, yB = -2;
  // Source row index after border handling (-1 = outside).
  const rowIndex = (y: number) => (replicate ? (y < 0 ? 0 : y >= H ? H - 1 : y) : y < 0 || y >= H ? -1 : y);

  const { gray, gray3, bgr, m0, s0, m1, s1, m2, s2 } = channelPlan(spec);

  // Columns whose interpolation touches the image; outside them (constant
  // border only) every output value is the normalised fill.
  let inStart = 0, inEnd = outW;
  if (!replicate) {
    while (inStart < outW && xl[inStart]! < 0 && xr[inStart]! < 0) inStart++;
    while (inEnd > inStart && xl[inEnd - 1]! < 0 && xr[inEnd - 1]! < 0) inEnd--;
  }
  const fillOut: [number, number, number] = gray
    ? [(fill - m0) * s0, (fill - m0) * s0, (fill - m0) * s0]
    : [(fill - m0) * s0, (fill - m1) * s1, (fill - m2) * s2];
  const planes = gray && !gray3 ? 1 : 3;
  const fillRange = (dst: Float32Array, from: number, to: number, step: number, values: [number, number, number]) => {
    if (to <= from) return;
    for (let k = 0; k < planes; k++) dst.fill(values[k]!, from + k * step, to + k * step);
  };

  for (let j = 0; j < outH; j++) {
    const y = e * j + f;
    const y0 = Math.floor(y);
    const fy = y - y0, gy = 1 - fy;
    const ia = rowIndex(y0), ib = rowIndex(y0 + 1);
    // Rows advance monotonically; keep the previous pair when it still applies.
    if (ia !== yA) {
      if (ia === yB && ia >= 0) {
        const t = rowA; rowA = rowB; rowB = t; yA = ia; yB = -2;
      } else {
        yA = ia;
        if (ia >= 0) interpolateRow(rgb, ia * W * 3, xl, xr, wr, fill, rowA, inStart, inEnd);
      }
    }
    if (ib !== yB) {
      yB = ib;
      if (ib >= 0) interpolateRow(rgb, ib * W * 3, xl, xr, wr, fill, rowB, inStart, inEnd);
    }
    const rowStart = offset + j * outW;
    if (ia < 0 && ib < 0) {
      // Wholly outside the image (letterbox border): constant output.
      fillRange(out, rowStart, rowStart + outW, plane, fillOut);
      continue;
    }
    fillRange(out, rowStart, rowStart + inStart, plane, fillOut);
    fillRange(out, rowStart + inEnd, rowStart + outW, plane, fillOut);
    const ra = ia >= 0 ? rowA : fillRow, rb = ib >= 0 ? rowB : fillRow;
    if (gray) blendGray(ra, rb, gy, fy, out, rowStart, inStart, inEnd, gray3 ? plane : 0, m0, s0);
    else blendRgb(ra, rb, gy, fy, out, rowStart, inStart, inEnd, plane, bgr, spec.mean, spec.scale);
  }
}

/** Blends two interpolated rows into the three planes (channel order and normalisation applied). */
function blendRgb(ra: Float32Array, rb: Float32Array, gy: number, fy: number, out: Float32Array, rowStart: number,
  from: number, to: number, plane: number, bgr: boolean, mean: readonly number[], scale: readonly number[]): void {
  // Source R goes to plane 0 (rgb) or plane 2 (bgr), with that plane's statistics.
  const offR = bgr ? 2 * plane : 0, offB = bgr ? 0 : 2 * plane;
  const mR = mean[bgr ? 2 : 0]!, sR = scale[bgr ? 2 : 0]!, mG = mean[1]!, sG = scale[1]!, mB = mean[bgr ? 0 : 2]!, sB = scale[bgr ? 0 : 2]!;
  for (let i = from, o = rowStart + from, p = from * 3; i < to; i++, o++, p += 3) {
    out[o + offR] = (ra[p]! * gy + rb[p]! * fy - mR) * sR;
    out[o + plane] = (ra[p + 1]! * gy + rb[p + 1]! * fy - mG) * sG;
    out[o + offB] = (ra[p + 2]! * gy + rb[p + 2]! * fy - mB) * sB;
  }
}

/** Blends two interpolated rows into luma; `copyStride` > 0 also writes it to the next two planes. */
function blendGray(ra: Float32Array, rb: Float32Array, gy: number, fy: number, out: Float32Array, rowStart: number,
  from: number, to: number, copyStride: number, m0: number, s0: number): void {
  for (let i = from, o = rowStart + from, p = from * 3; i < to; i++, o++, p += 3) {
    const l = (0.299 * (ra[p]! * gy + rb[p]! * fy) + 0.587 * (ra[p + 1]! * gy + rb[p + 1]! * fy) + 0.114 * (ra[p + 2]! * gy + rb[p + 2]! * fy) - m0) * s0;
    out[o] = l;
    if (copyStride > 0) out[o + copyStride] = out[o + 2 * copyStride] = l;
  }
}

/** Affine that maps an outW x outH output onto the source rectangle (continuous coordinates). */
export function rectMap(left: number, top: number, width: number, height: number, outW: number, outH: number): Affine {
  const sx = width / outW, sy = height / outH;
  // Output pixel centre i+0.5 lands at left + (i+0.5)*sx in continuous coordinates, minus 0.5 for pixel centres.
  return [sx, 0, left + 0.5 * sx - 0.5, 0, sy, top + 0.5 * sy - 0.5];
}

/** cos and sin of an angle in degrees, exact for multiples of 90 (a quarter turn then samples without rounding noise). */
export function cosSinDegrees(angle: number): [number, number] {
  const a = ((angle % 360) + 360) % 360;
  if (a === 0) return [1, 0];
  if (a === 90) return [0, 1];
  if (a === 180) return [-1, 0];
  if (a === 270) return [0, -1];
  return [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)];
}

/**
 * Affine that maps an outW x outH output onto the source rectangle turned by
 * `angle` degrees (clockwise on screen, image y pointing down) about its
 * centre: the output is the rectangle's content turned upright. Angle 0 is
 * exactly rectMap.
 */
export function rotatedRectMap(left: number, top: number, width: number, height: number, angle: number, outW: number, outH: number): Affine {
  if (angle === 0) return rectMap(left, top, width, height, outW, outH);
  const sx = width / outW, sy = height / outH;
  const [c, s] = cosSinDegrees(angle);
  const cx = left + width / 2, cy = top + height / 2;
  const u0 = 0.5 * sx - width / 2, v0 = 0.5 * sy - height / 2;
  return [c * sx, -s * sy, cx + c * u0 - s * v0 - 0.5, s * sx, c * sy, cy + s * u0 + c * v0 - 0.5];
}

/** The source point (continuous coordinates) under output point (u, v) of `map` (continuous coordinates). */
export function mapPoint(map: Affine, u: number, v: number): [number, number] {
  const i = u - 0.5, j = v - 0.5;
  return [map[0] * i + map[1] * j + map[2] + 0.5, map[3] * i + map[4] * j + map[5] + 0.5];
}

/** The same sampling with the output mirrored left-right (output column i reads what column outW-1-i read). */
export function mirrorMap(map: Affine, outW: number): Affine {
  return [-map[0], map[1], map[0] * (outW - 1) + map[2], -map[3], map[4], map[3] * (outW - 1) + map[5]];
}

/** Luma (BT.601) of a source rectangle resampled to size x size, as 0..255 floats. */
export function grayPatch(pyr: Pyramid, left: number, top: number, width: number, height: number, size: number, angle = 0): Float32Array {
  const out = new Float32Array(size * size);
  sampleInto(pyr, { width: size, height: size, map: rotatedRectMap(left, top, width, height, angle, size, size), channels: 'gray', mean: [0], scale: [1], border: 'replicate' }, out);
  return out;
}
