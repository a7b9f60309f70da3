// Image operations for model preprocessing. Every model input is one affine
// resampling of the decoded image (a crop+resize is an axis-aligned affine,
// the face alignment a similarity), written straight into a planar float
// tensor with the model's normalisation. The pixel loops are WebAssembly
// (resample/resample.c, with SIMD): as JS typed-array loops they took a third
// of an enrolment's time, and sharp's per-call overhead alone is larger than
// a crop.
import { readFileSync } from 'node:fs';

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

/** The kernels of resample.wasm (pointers are byte offsets into the instance's memory). */
interface Kernels {
  sample_affine(src: number, W: number, H: number, out: number, outW: number, outH: number,
    a: number, b: number, c: number, d: number, e: number, f: number, channels: number, border: number,
    m0: number, s0: number, m1: number, s1: number, m2: number, s2: number): void;
  sample_rows(src: number, W: number, H: number, out: number, outW: number, outH: number,
    a: number, c: number, e: number, f: number, channels: number, border: number,
    m0: number, s0: number, m1: number, s1: number, m2: number, s2: number, scratch: number): void;
  halve(src: number, w: number, h: number, dst: number): void;
  transpose(src: number, w: number, h: number, dst: number): void;
  __heap_base: WebAssembly.Global;
}

// Compiled once per thread; each Pyramid instantiates it on its own memory.
const RESAMPLE_MODULE = new WebAssembly.Module(readFileSync(new URL('./resample/resample.wasm', import.meta.url)));

const CHANNEL_CODES: Readonly<Record<ChannelOrder, number>> = { rgb: 0, bgr: 1, gray: 2, gray3: 3 };
const REPLICATE = -1;
/** Bytes after every image and buffer in the wasm memory: the kernels' SIMD loads read up to 15 past the end. */
const SLACK = 16;
const PAGE = 65536;
/** 32-bit words of sample_rows' scratch: a blended source row with its fill margin, then the column taps. */
const SCRATCH_WORDS = (sourceWidth: number, outW: number) => 3 * sourceWidth + 32 + 3 * outW;

const align16 = (n: number) => (n + 15) & ~15;
/** Largest absolute map coefficient sampled (2^40). */
const MAX_MAP_VALUE = 2 ** 40;
/**
 * Largest level (pixels) given a transposed copy for quarter-turned maps: the
 * detector's turned passes over a phone photo's levels; a larger one (a
 * landmark crop of a 40-megapixel image) takes the general kernel instead of
 * a 120 MB copy.
 */
const TRANSPOSE_MAX_PIXELS = 4_000_000;

/** A wasm memory with the kernels instantiated on it: what a pyramid lays its images out in. */
interface Arena {
  memory: WebAssembly.Memory;
  kernels: Kernels;
}

function newArena(): Arena {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const kernels = new WebAssembly.Instance(RESAMPLE_MODULE, { env: { memory } }).exports as unknown as Kernels;
  return { memory, kernels };
}

/** The ResampleStats kind of the work a pyramid does for its samplings: the image copied into its memory, halved levels, transposed copies. */
export const PYRAMID_WORK = 'pyramid';

/** Whether resample.c copies for this (level) map instead of resampling: see whole_pixel_shift there. */
const wholePixelShift = (a: number, c: number, e: number, f: number) =>
  a === 1 && e === 1 && Math.abs(c) < 2 ** 24 && Math.abs(f) < 2 ** 24 && Number.isInteger(c) && Number.isInteger(f);

/** Runs and wall time (ms) of one kind of sampling call. */
export interface ResampleTally {
  runs: number;
  ms: number;
}

/**
 * Where the resampling time goes, per output shape, channels and kernel
 * ("320x240 rgb copy"), and the pyramid's own work (PYRAMID_WORK): what the
 * benchmarks print to show the preprocessing beside the models. Two clock
 * reads per call, a few microseconds a photo.
 */
export class ResampleStats {
  private readonly tallies = new Map<string, ResampleTally>();

  record(kind: string, ms: number): void {
    let tally = this.tallies.get(kind);
    if (!tally) this.tallies.set(kind, (tally = { runs: 0, ms: 0 }));
    tally.runs++;
    tally.ms += ms;
  }

  snapshot(): Record<string, ResampleTally> {
    return Object.fromEntries([...this.tallies].map(([kind, t]) => [kind, { ...t }]));
  }

  reset(): void {
    this.tallies.clear();
  }
}

/**
 * Arenas of finished pyramids, for the next images of the same engine. A new
 * arena's memory is fresh pages, and the first touch of each costs more than
 * the sampling of a small photo (measured: 3-4 ms a 700x700 photo against
 * 0.7 on a reused one). A wasm memory cannot shrink, so only arenas up to
 * `maxBytes` are kept (larger ones go to the GC) and at most `keep` of them.
 */
export class PyramidPool {
  private readonly free: Arena[] = [];
  /** The sampling calls of every pyramid from this pool. */
  readonly stats = new ResampleStats();

  constructor(private readonly keep = 2, private readonly maxBytes = 32 << 20) {}

  /** A pyramid of `base`; close() it when done to give its memory back. */
  pyramid(base: RgbPlane): Pyramid {
    return new Pyramid(base, this.free.pop(), (arena) => {
      if (this.free.length < this.keep && arena.memory.buffer.byteLength <= this.maxBytes) this.free.push(arena);
    }, this.stats);
  }
}

/**
 * Successive 2x box-downsampled copies of one image, built on demand.
 * Bilinear sampling aliases when it skips source pixels; sampling from the
 * level whose pixels are at most ~2 output steps apart avoids that at the
 * cost of one pass over the image per level. The image and its levels live
 * in a WebAssembly memory (one copy of the image): the pyramid's own, freed
 * with it, or one lent by a PyramidPool until close().
 */
export class Pyramid {
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: Kernels;
  /** Byte offset of each level's pixels in the memory. */
  private readonly offsets: number[] = [];
  private readonly sizes: Array<{ width: number; height: number }> = [];
  /** Byte offset of each level's transposed copy, made for the first quarter-turned map on that level. */
  private readonly transposed: number[] = [];
  /** End of the images; call-time buffers start here. */
  private top: number;
  private closed = false;

  constructor(readonly base: RgbPlane, private readonly arena: Arena = newArena(), private readonly onClose?: (arena: Arena) => void,
    private readonly stats?: ResampleStats) {
    const { width, height, rgb } = base;
    // The kernels trust these sizes to stay inside the image.
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || rgb.length !== width * height * 3) {
      throw new RangeError(`not a packed RGB image: ${width}x${height} with ${rgb.length} bytes`);
    }
    ({ memory: this.memory, kernels: this.kernels } = arena);
    const started = stats ? performance.now() : 0;
    this.top = align16(this.kernels.__heap_base.value as number);
    this.offsets.push(this.reserve(base.rgb.length));
    this.sizes.push({ width: base.width, height: base.height });
    new Uint8Array(this.memory.buffer).set(base.rgb, this.offsets[0]);
    stats?.record(PYRAMID_WORK, performance.now() - started);
  }

  /** Size of the wasm memory holding the image, its levels and the call buffers. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Gives the memory back to the pool it came from; later calls throw. Views from level() must not be used after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.(this.arena);
  }

  /**
   * Level k has 2^k times fewer pixels per side (level 0 is `base`). A copy:
   * the level itself lives in the arena, which the next image reuses after
   * close() (and a memory.grow detaches views of it).
   */
  level(k: number): RgbPlane {
    if (k === 0) return this.base;
    this.assertOpen();
    this.build(k);
    const { width, height } = this.sizes[k]!;
    return { width, height, rgb: new Uint8Array(this.memory.buffer, this.offsets[k], width * height * 3).slice() };
  }

  /**
   * Coarsest level whose pixel spacing keeps `step` (source px per output px)
   * at most 2; for a step of exactly 2^m (the detector's tile passes), level m,
   * where the step is 1 and a whole-pixel offset makes the sampling a copy.
   */
  levelForStep(step: number): number {
    this.assertOpen();
    const m = Math.round(Math.log2(step));
    const exact = m >= 1 && Math.abs(step - 2 ** m) <= 1e-9 * step;
    let k = 0;
    while ((step / 2 ** k > 2 || (exact && k < m)) && this.sizes[k]!.width >= 4 && this.sizes[k]!.height >= 4) {
      k++;
      this.build(k);
    }
    return k;
  }

  /** Bilinear resampling into `out` (planar CHW, starting at `offset`); see sampleInto. */
  sample(spec: SampleSpec, out: Float32Array, offset: number): void {
    this.assertOpen();
    // Far beyond any real map (the engine's are within a few image sizes),
    // and where float64 products could overflow to infinity.
    if (!spec.map.every((v) => Math.abs(v) <= MAX_MAP_VALUE)) throw new RangeError(`sampling map is not finite or out of range: ${spec.map.join(', ')}`);
    if (spec.border !== 'replicate' && !(Number.isInteger(spec.border) && spec.border >= 0 && spec.border <= 255)) {
      throw new RangeError(`border must be 'replicate' or an integer 0..255, got ${spec.border}`);
    }
    if (!Number.isInteger(spec.width) || !Number.isInteger(spec.height) || spec.width < 1 || spec.height < 1) {
      throw new RangeError(`sample size must be positive integers, got ${spec.width}x${spec.height}`);
    }
    const k = this.levelForStep(mapStep(spec.map));
    const { width: W, height: H } = this.sizes[k]!;
    const [a, b, c, d, e, f] = levelMap(spec.map, k);
    const planes = spec.channels === 'gray' ? 1 : 3;
    const length = planes * spec.width * spec.height;
    if (offset < 0 || offset + length > out.length) throw new RangeError(`output needs ${length} floats at ${offset}, has ${out.length}`);
    const gray = spec.channels === 'gray' || spec.channels === 'gray3';
    const [m0, m1, m2] = gray ? [spec.mean[0]!, 0, 0] : spec.mean;
    const [s0, s1, s2] = gray ? [spec.scale[0]!, 0, 0] : spec.scale;
    const border = spec.border === 'replicate' ? REPLICATE : spec.border;
    const channels = CHANNEL_CODES[spec.channels];
    const rows = b === 0 && d === 0 && a !== 0 && e !== 0;
    // A quarter turn (source x from the output row, y from the column) is rows on the transposed level.
    // Only on levels up to TRANSPOSE_MAX_PIXELS: the copy is another level's worth of memory.
    const quarter = a === 0 && e === 0 && b !== 0 && d !== 0 && W * H <= TRANSPOSE_MAX_PIXELS;
    const src = quarter ? this.transposedLevel(k) : this.offsets[k]!;
    // Levels and transposed copies made on the way are counted as PYRAMID_WORK, not as this sampling.
    const started = this.stats ? performance.now() : 0;
    const outPtr = this.top;
    const scratchPtr = align16(outPtr + 4 * length + SLACK);
    this.ensure(rows || quarter ? scratchPtr + 4 * SCRATCH_WORDS(Math.max(W, H), spec.width) + SLACK : scratchPtr);
    if (rows) this.kernels.sample_rows(src, W, H, outPtr, spec.width, spec.height, a, c, e, f, channels, border, m0!, s0!, m1!, s1!, m2!, s2!, scratchPtr);
    else if (quarter) this.kernels.sample_rows(src, H, W, outPtr, spec.width, spec.height, d, f, b, c, channels, border, m0!, s0!, m1!, s1!, m2!, s2!, scratchPtr);
    else this.kernels.sample_affine(src, W, H, outPtr, spec.width, spec.height, a, b, c, d, e, f, channels, border, m0!, s0!, m1!, s1!, m2!, s2!);
    out.set(new Float32Array(this.memory.buffer, outPtr, length), offset);
    if (this.stats) {
      // The kernel resample.c picks (its whole_pixel_shift test, on the transposed level for a quarter turn).
      const copy = rows ? wholePixelShift(a, c, e, f) : quarter && wholePixelShift(d, f, b, c);
      this.stats.record(`${spec.width}x${spec.height} ${spec.channels} ${copy ? 'copy' : rows ? 'rows' : quarter ? 'quarter' : 'affine'}`, performance.now() - started);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('pyramid is closed');
  }

  private build(k: number): void {
    if (this.offsets.length > k) return;
    const started = this.stats ? performance.now() : 0;
    while (this.offsets.length <= k) {
      const i = this.offsets.length - 1;
      const { width, height } = this.sizes[i]!;
      const next = { width: Math.max(1, width >> 1), height: Math.max(1, height >> 1) };
      const at = this.reserve(next.width * next.height * 3);
      this.kernels.halve(this.offsets[i]!, width, height, at);
      this.offsets.push(at);
      this.sizes.push(next);
    }
    this.stats?.record(PYRAMID_WORK, performance.now() - started);
  }

  private transposedLevel(k: number): number {
    if (this.transposed[k] === undefined) {
      const started = this.stats ? performance.now() : 0;
      const { width, height } = this.sizes[k]!;
      const at = this.reserve(width * height * 3);
      this.kernels.transpose(this.offsets[k]!, width, height, at);
      this.transposed[k] = at;
      this.stats?.record(PYRAMID_WORK, performance.now() - started);
    }
    return this.transposed[k]!;
  }

  /** Room for `bytes` (and the slack) at the top, kept for the pyramid's life. */
  private reserve(bytes: number): number {
    const at = this.top;
    this.top = align16(at + bytes + SLACK);
    this.ensure(this.top);
    return at;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
  }
}

/** Source pixels per output pixel along the map's longer axis. */
export function mapStep(map: Affine): number {
  return Math.max(Math.hypot(map[0], map[3]), Math.hypot(map[1], map[4]));
}

/** The map in pyramid level k's coordinates: base pixel centre x is level coordinate (x + 0.5) / 2^k - 0.5. */
export function levelMap(map: Affine, k: number): Affine {
  const inv = 1 / 2 ** k;
  const [a, b, c, d, e, f] = map;
  return [a * inv, b * inv, (c + 0.5) * inv - 0.5, d * inv, e * inv, (f + 0.5) * inv - 0.5];
}

/** Halves an image by 2x2 box averaging (odd last row/column dropped). */
export function halve(src: RgbPlane): RgbPlane {
  return new Pyramid(src).level(1);
}

/** Bilinear resampling of `pyr` into `out` (planar CHW, starting at `offset`). */
export function sampleInto(pyr: Pyramid, spec: SampleSpec, out: Float32Array, offset = 0): void {
  pyr.sample(spec, out, offset);
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
