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
    // The three channels written out: a loop over them costs a third of the time.
    for (let x = 0, p = 2 * y * stride, q = p + dy; x < width; x++, p += 6, q += 6, o += 3) {
      out[o] = (s[p]! + s[p + dx]! + s[q]! + s[q + dx]! + 2) >> 2;
      out[o + 1] = (s[p + 1]! + s[p + dx + 1]! + s[q + 1]! + s[q + dx + 1]! + 2) >> 2;
      out[o + 2] = (s[p + 2]! + s[p + dx + 2]! + s[q + 2]! + s[q + dx + 2]! + 2) >> 2;
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
  const [a, b, c, d, e, f] = map;
  // Output column i -> source x = a*i + b*j + c, y = d*i + e*j + f.
  if (b === 0 && d === 0 && a !== 0 && e !== 0) sampleSeparable(src, spec, out, offset, true, a, c, e, f);
  else if (a === 0 && e === 0 && b !== 0 && d !== 0) sampleSeparable(src, spec, out, offset, false, d, f, b, c);
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

/**
 * Bilinear taps along one axis: source offsets (bytes) of the two
 * neighbours of `coord`, -1 when outside the image (the fill value), and the
 * weight of the second. With 'replicate' the neighbours are clamped instead.
 */
function taps(coord: number, size: number, unit: number, replicate: boolean, at: number, a: Int32Array, b: Int32Array, w: Float64Array): void {
  const c0 = Math.floor(coord);
  w[at] = coord - c0;
  let l = c0, r = c0 + 1;
  if (replicate) {
    l = l < 0 ? 0 : l >= size ? size - 1 : l;
    r = r < 0 ? 0 : r >= size ? size - 1 : r;
    a[at] = l * unit;
    b[at] = r * unit;
  } else {
    a[at] = l < 0 || l >= size ? -1 : l * unit;
    b[at] = r < 0 || r >= size ? -1 : r * unit;
  }
}

/**
 * Crops and resizes, also turned by a multiple of 90 degrees: the source
 * coordinate along one axis depends only on the output column and along the
 * other only on the output row. The column's taps come from a table, the
 * row's are fixed per row, and each output pixel reads its four neighbours
 * straight from the source (about twice as fast as the general path, and
 * the quarter-turned detector passes and landmark crops take it too).
 * `columnIsX`: output columns move along source x (no turn, or 180
 * degrees); otherwise along source y (90 or 270 degrees).
 */
function sampleSeparable(src: RgbPlane, spec: SampleSpec, out: Float32Array, offset: number,
  columnIsX: boolean, ki: number, ci: number, kj: number, cj: number): void {
  const W = src.width, H = src.height, rgb = src.rgb;
  const stride = W * 3;
  const outW = spec.width, outH = spec.height, plane = outW * outH;
  const replicate = spec.border === 'replicate';
  const fill = replicate ? 0 : (spec.border as number);
  const [iSize, iUnit, jSize, jUnit] = columnIsX ? [W, 3, H, stride] : [H, stride, W, 3];

  // Per output column: the two taps along its source axis and the second's weight.
  const ta = new Int32Array(outW), tb = new Int32Array(outW), tw = new Float64Array(outW);
  for (let i = 0; i < outW; i++) taps(ki * i + ci, iSize, iUnit, replicate, i, ta, tb, tw);
  // Columns whose interpolation touches the image; outside them (constant
  // border only) every output value is the normalised fill.
  let inStart = 0, inEnd = outW;
  if (!replicate) {
    while (inStart < outW && ta[inStart]! < 0 && tb[inStart]! < 0) inStart++;
    while (inEnd > inStart && ta[inEnd - 1]! < 0 && tb[inEnd - 1]! < 0) inEnd--;
  }
  const rowTaps = { a: new Int32Array(1), b: new Int32Array(1), w: new Float64Array(1) };

  const { gray, gray3, bgr, m0, s0, m1, s1, m2, s2 } = channelPlan(spec);
  const planes = gray && !gray3 ? 1 : 3;
  // Source R goes to plane 0 (rgb) or plane 2 (bgr), with that plane's statistics.
  const offR = bgr ? 2 * plane : 0, offB = bgr ? 0 : 2 * plane;
  const mR = bgr ? m2 : m0, sR = bgr ? s2 : s0, mB = bgr ? m0 : m2, sB = bgr ? s0 : s2;
  const fillOut = gray ? [(fill - m0) * s0, (fill - m0) * s0, (fill - m0) * s0] : [(fill - m0) * s0, (fill - m1) * s1, (fill - m2) * s2];

  for (let j = 0; j < outH; j++) {
    taps(kj * j + cj, jSize, jUnit, replicate, 0, rowTaps.a, rowTaps.b, rowTaps.w);
    const ja = rowTaps.a[0]!, jb = rowTaps.b[0]!, fj = rowTaps.w[0]!, gj = 1 - fj;
    const rowStart = offset + j * outW;
    const wholeRow = ja < 0 && jb < 0;
    for (let k = 0; k < planes; k++) {
      if (wholeRow) out.fill(fillOut[k]!, rowStart + k * plane, rowStart + outW + k * plane);
      else {
        if (inStart > 0) out.fill(fillOut[k]!, rowStart + k * plane, rowStart + inStart + k * plane);
        if (inEnd < outW) out.fill(fillOut[k]!, rowStart + inEnd + k * plane, rowStart + outW + k * plane);
      }
    }
    if (wholeRow) continue;
    for (let i = inStart, o = rowStart + inStart; i < inEnd; i++, o++) {
      const fi = tw[i]!, gi = 1 - fi, ia = ta[i]!, ib = tb[i]!;
      // Neighbour (first/second along the column's axis, first/second along the row's).
      const w00 = gi * gj, w10 = fi * gj, w01 = gi * fj, w11 = fi * fj;
      let v0: number, v1: number, v2: number;
      if (ia >= 0 && ib >= 0 && ja >= 0 && jb >= 0) {
        const p00 = ia + ja, p10 = ib + ja, p01 = ia + jb, p11 = ib + jb;
        v0 = rgb[p00]! * w00 + rgb[p10]! * w10 + rgb[p01]! * w01 + rgb[p11]! * w11;
        v1 = rgb[p00 + 1]! * w00 + rgb[p10 + 1]! * w10 + rgb[p01 + 1]! * w01 + rgb[p11 + 1]! * w11;
        v2 = rgb[p00 + 2]! * w00 + rgb[p10 + 2]! * w10 + rgb[p01 + 2]! * w01 + rgb[p11 + 2]! * w11;
      } else {
        // At the image's edge: neighbours outside take the fill value.
        const in00 = ia >= 0 && ja >= 0, in10 = ib >= 0 && ja >= 0, in01 = ia >= 0 && jb >= 0, in11 = ib >= 0 && jb >= 0;
        const p00 = ia + ja, p10 = ib + ja, p01 = ia + jb, p11 = ib + jb;
        v0 = (in00 ? rgb[p00]! : fill) * w00 + (in10 ? rgb[p10]! : fill) * w10 + (in01 ? rgb[p01]! : fill) * w01 + (in11 ? rgb[p11]! : fill) * w11;
        v1 = (in00 ? rgb[p00 + 1]! : fill) * w00 + (in10 ? rgb[p10 + 1]! : fill) * w10 + (in01 ? rgb[p01 + 1]! : fill) * w01 + (in11 ? rgb[p11 + 1]! : fill) * w11;
        v2 = (in00 ? rgb[p00 + 2]! : fill) * w00 + (in10 ? rgb[p10 + 2]! : fill) * w10 + (in01 ? rgb[p01 + 2]! : fill) * w01 + (in11 ? rgb[p11 + 2]! : fill) * w11;
      }
      if (gray) {
        const lum = (0.299 * v0 + 0.587 * v1 + 0.114 * v2 - m0) * s0;
        out[o] = lum;
        if (gray3) out[o + plane] = out[o + 2 * plane] = lum;
      } else {
        out[o + offR] = (v0 - mR) * sR;
        out[o + plane] = (v1 - m1) * s1;
        out[o + offB] = (v2 - mB) * sB;
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
