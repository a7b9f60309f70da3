import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { PYRAMID_WORK, Pyramid, PyramidPool, halve, levelMap, mapStep, rectMap, rotatedRectMap, sampleInto, type Affine, type RgbPlane, type SampleSpec } from '../../models/image-ops.js';
import { referenceHalve, referenceSample } from '../helpers/reference-sampler.js';
import { PROJECT_ROOT } from '../helpers/paths.js';
import { blurEffect, binnedAngle } from '../../models/quality.js';
import { softmax, ssrMerge } from '../../models/attributes.js';

function randomImage(width: number, height: number, seed = 1): RgbPlane {
  let s = seed;
  const rgb = new Uint8Array(width * height * 3).map(() => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s & 0xff;
  });
  return { width, height, rgb };
}

const spec = (map: Affine, extra: Partial<SampleSpec> = {}): SampleSpec => ({
  width: 37, height: 29, map, channels: 'rgb', mean: [10, 20, 30], scale: [0.5, 0.25, 2], border: 77, ...extra,
});

function sample(pyr: Pyramid, s: SampleSpec): Float32Array {
  const planes = s.channels === 'gray' ? 1 : 3;
  const out = new Float32Array(planes * s.width * s.height);
  sampleInto(pyr, s, out);
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('sampleInto', () => {
  const img = randomImage(41, 33);
  const pyr = new Pyramid(img);

  it('gives the same crops on the separable path as on the general affine path', () => {
    // A rotation of 1e-12 rad forces the general path with the same geometry.
    const eps = 1e-12;
    for (const [map, border] of [
      [rectMap(-5, -7, 50, 40, 37, 29), 77],
      [rectMap(3.3, 2.2, 20, 15, 37, 29), 'replicate'],
      [rectMap(-10, 5, 60, 30, 37, 29), 'replicate'],
    ] as const) {
      for (const channels of ['rgb', 'bgr', 'gray', 'gray3'] as const) {
        const fast = sample(pyr, spec(map, { border, channels }));
        const general = sample(pyr, spec([map[0], eps, map[2], eps, map[4], map[5]], { border, channels }));
        expect(maxDiff(fast, general), `${channels} ${border}`).to.be.lessThan(1e-3);
      }
    }
  });

  it('gives the same quarter-turned crops on the separable path as on the general affine path', () => {
    const eps = 1e-12;
    for (const angle of [90, 180, 270]) {
      for (const [left, top, border] of [[-5, -7, 77], [3.3, 2.2, 'replicate'], [20, 10, 0]] as const) {
        const map = rotatedRectMap(left, top, 30, 24, angle, 37, 29);
        for (const channels of ['rgb', 'bgr', 'gray', 'gray3'] as const) {
          const fast = sample(pyr, spec(map, { border, channels }));
          const general = sample(pyr, spec([map[0] + eps, map[1], map[2], map[3], map[4] + eps, map[5]], { border, channels }));
          expect(maxDiff(fast, general), `${angle} ${channels} ${border}`).to.be.lessThan(1e-3);
        }
      }
    }
  });

  it('reproduces the source exactly under the identity map, with channel order and normalisation', () => {
    const s = spec([1, 0, 0, 0, 1, 0], { width: img.width, height: img.height, mean: [0, 0, 0], scale: [1, 1, 1] });
    const rgbOut = sample(pyr, s);
    const bgrOut = sample(pyr, { ...s, channels: 'bgr' });
    const plane = img.width * img.height;
    for (const p of [0, 17, plane - 1]) {
      for (let c = 0; c < 3; c++) {
        expect(rgbOut[c * plane + p]).to.equal(img.rgb[3 * p + c]);
        expect(bgrOut[c * plane + p]).to.equal(img.rgb[3 * p + 2 - c]);
      }
    }
  });

  it('fills samples outside the image with the border value', () => {
    const out = sample(pyr, spec([1, 0, -1000, 0, 1, -1000], { mean: [0, 0, 0], scale: [1, 1, 1] }));
    expect(out.every((v) => v === 77)).to.equal(true);
  });

  it('samples a coarser pyramid level when shrinking a lot, averaging instead of skipping pixels', () => {
    // Alternating black/white columns: point sampling would alias, averaging gives grey.
    const stripes: RgbPlane = { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3) };
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x += 2) stripes.rgb.fill(255, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
    const out = sample(new Pyramid(stripes), { width: 8, height: 8, map: rectMap(0, 0, 64, 64, 8, 8), channels: 'gray', mean: [0], scale: [1], border: 'replicate' });
    for (const v of out) expect(v).to.be.closeTo(127.5, 1);
  });
});

describe('the WebAssembly kernels against the reference sampler', () => {
  // Seeded, so a failure names a case that can be run again.
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };

  it('sample every kind of map like the float64 reference, to 1e-3 of a grey level', () => {
    const images = [randomImage(41, 33, 3), randomImage(1, 9, 4), randomImage(64, 2, 5), randomImage(300, 211, 6)];
    let cases = 0;
    for (const img of images) {
      const pyr = new Pyramid(img);
      for (let n = 0; n < 40; n++) {
        const side = 1 + Math.floor(random() * 60);
        // Crops, shrinks, enlargements, turns of any angle (quarter turns and
        // 180 included), partly or wholly outside the image.
        const angle = [0, 90, 180, 270, random() * 360][n % 5]!;
        const zoom = [0.3, 1, 2, 4, 7.3][Math.floor(random() * 5)]!;
        const left = (random() - 0.3) * img.width, top = (random() - 0.3) * img.height;
        const map = rotatedRectMap(left, top, side * zoom, side * zoom * 0.8, angle, side, Math.max(1, Math.round(side * 0.8)));
        const channels = (['rgb', 'bgr', 'gray', 'gray3'] as const)[n % 4]!;
        const border = n % 3 === 0 ? 'replicate' : Math.floor(random() * 256);
        const s: SampleSpec = { width: side, height: Math.max(1, Math.round(side * 0.8)), map, channels, mean: [3, 100, 250], scale: [1, 1, 1], border };
        const got = sample(pyr, s);
        const k = pyr.levelForStep(mapStep(map));
        const want = referenceSample(pyr.level(k), s, levelMap(map, k));
        expect(maxDiff(got, want), `case ${cases}: ${img.width}x${img.height} level ${k} ${JSON.stringify(s)}`).to.be.lessThan(1e-3);
        cases++;
      }
    }
  });

  it('copy whole-pixel shifts (the detector\'s tile passes) exactly, inside, across and outside the edges', () => {
    let cases = 0;
    for (const img of [randomImage(41, 33, 11), randomImage(1, 9, 12), randomImage(7, 1, 13), randomImage(300, 211, 14)]) {
      const pyr = new Pyramid(img);
      for (let n = 0; n < 40; n++) {
        // Widths that are and are not multiples of the kernel's four pixels.
        const width = 1 + Math.floor(random() * 45), height = 1 + Math.floor(random() * 30);
        const map: Affine = [1, 0, Math.floor((random() * 1.6 - 0.3) * img.width) - 3, 0, 1, Math.floor((random() * 1.6 - 0.3) * img.height) - 3];
        const channels = (['rgb', 'bgr', 'gray', 'gray3'] as const)[n % 4]!;
        const border = n % 3 === 0 ? 'replicate' : Math.floor(random() * 256);
        const label = `case ${cases++}: ${img.width}x${img.height} ${width}x${height} at ${map[2]},${map[5]} ${channels} ${border}`;
        // Unnormalised colour values are whole grey levels: equal, not close.
        const raw: SampleSpec = { width, height, map, channels, mean: [0, 0, 0], scale: [1, 1, 1], border };
        const gray = channels === 'gray' || channels === 'gray3';
        const want = referenceSample(img, raw, map);
        expect(maxDiff(sample(pyr, raw), want), label).to.be.at.most(gray ? 1e-4 : 0);
        const normalised = { ...raw, mean: [3, 100, 250], scale: [0.5, 2, 1 / 128] };
        expect(maxDiff(sample(pyr, normalised), referenceSample(img, normalised, map)), label).to.be.lessThan(1e-3);
      }
    }
    // Whole shifts far beyond int32 (maps may reach 2^40): the border, not a wrapped offset.
    const far = new Pyramid(randomImage(41, 33, 15));
    for (const shift of [2 ** 33, -(2 ** 35), 2 ** 40]) {
      const out = sample(far, spec([1, 0, shift, 0, 1, -shift], { mean: [0, 0, 0], scale: [1, 1, 1] }));
      expect(out.every((v) => v === 77), `shift ${shift}`).to.equal(true);
    }
  });

  it('come from the committed source (resample.wasm rebuilt by build.sh after every change of resample.c)', () => {
    const dir = join(PROJECT_ROOT, 'models', 'resample');
    const hash = (name: string) => createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
    const [source, wasm] = readFileSync(join(dir, 'resample.sha256'), 'utf8').trim().split('\n');
    expect(hash('resample.c'), 'resample.c changed: run npm run build:wasm').to.equal(source);
    expect(hash('resample.wasm'), 'resample.wasm is not the one build.sh made').to.equal(wasm);
  });

  it('halve like the reference, exactly, at odd and one-pixel sizes', () => {
    for (const [w, h] of [[41, 33], [2, 2], [1, 7], [9, 1], [1, 1], [300, 211]] as const) {
      const img = randomImage(w, h, w * 31 + h);
      const got = halve(img), want = referenceHalve(img);
      expect([got.width, got.height]).to.deep.equal([want.width, want.height]);
      expect(Buffer.from(got.rgb).equals(Buffer.from(want.rgb)), `${w}x${h}`).to.equal(true);
    }
  });

  it('builds deeper levels from the previous ones and keeps the caller\'s image as level 0', () => {
    const img = randomImage(300, 211, 9);
    const pyr = new Pyramid(img);
    expect(pyr.level(0)).to.equal(img);
    const l3 = pyr.level(3);
    const want = referenceHalve(referenceHalve(referenceHalve(img)));
    expect(Buffer.from(l3.rgb).equals(Buffer.from(want.rgb))).to.equal(true);
  });

  it('takes level m for a step of exactly 2^m, where a whole-pixel tile is a copy of that level', () => {
    const img = randomImage(300, 211, 11);
    const pyr = new Pyramid(img);
    expect(pyr.levelForStep(2)).to.equal(1);
    expect(pyr.levelForStep(4)).to.equal(2);
    expect(pyr.levelForStep(3.9)).to.equal(1);
    expect(pyr.levelForStep(1.5)).to.equal(0);
    // A 2x-shrunk crop at whole level-1 pixels: exactly the level's pixels.
    const out = sample(pyr, { width: 20, height: 10, map: [2, 0, 2 * 7 + 0.5, 0, 2, 2 * 5 + 0.5], channels: 'rgb', mean: [0, 0, 0], scale: [1, 1, 1], border: 0 });
    const l1 = pyr.level(1);
    for (const [i, j] of [[0, 0], [19, 9], [5, 3]] as const) {
      for (let ch = 0; ch < 3; ch++) expect(out[ch * 200 + j * 20 + i]).to.equal(l1.rgb[((5 + j) * l1.width + 7 + i) * 3 + ch]);
    }
  });

  it('samples maps reaching far outside any image as the border, and refuses non-finite maps', () => {
    const img = randomImage(41, 33, 17);
    const pyr = new Pyramid(img);
    // The second and fifth are steps the pyramid cannot absorb on a tiny image:
    // four pixels of a group may be far apart, some inside and some out.
    for (const map of [[1, 0, 1e12, 0, 1, -1e12], [3e9, 1, 0, -2e9, 1, 0], [0.7, 0.7, -5e10, -0.7, 0.7, 5e10], [1e-9, 0, 20, 0, 1e-9, 15],
      [1e7, 1e-12, -29999950, 1e-12, 1e-9, 1], [12345, 0.5, -20000, 0.3, 0.01, 2]] as Affine[]) {
      for (const border of ['replicate', 77] as const) {
        const s = spec(map, { border, mean: [0, 0, 0], scale: [1, 1, 1] });
        const k = pyr.levelForStep(mapStep(map));
        expect(maxDiff(sample(pyr, s), referenceSample(pyr.level(k), s, levelMap(map, k))), `${map} ${border}`).to.be.lessThan(1e-3);
      }
    }
    for (const bad of [NaN, Infinity, -Infinity, -1e308, 2 ** 41]) {
      expect(() => sample(pyr, spec([1, 0, bad, 0, 1, 0]))).to.throw(RangeError, /not finite or out of range/);
    }
    for (const border of [127.5, -1, 256, NaN]) expect(() => sample(pyr, spec([1, 0, 0, 0, 1, 0], { border }))).to.throw(RangeError, /border/);
    expect(() => sample(pyr, { ...spec([1, 0, 0, 0, 1, 0]), width: 2.5 })).to.throw(RangeError);
  });

  it('turns a crop of a large level by quarter turns without a transposed copy of that level', () => {
    const img = randomImage(2100, 2000, 27); // 4.2 megapixels, over the transposing limit
    const pyr = new Pyramid(img);
    const s = spec(rotatedRectMap(1000, 900, 50, 40, 90, 50, 40), { width: 50, height: 40, mean: [0, 0, 0], scale: [1, 1, 1] });
    expect(maxDiff(sample(pyr, s), referenceSample(img, s, s.map))).to.be.lessThan(1e-3);
    // The image and the call's buffers only: no second image's worth.
    expect(pyr.memoryBytes).to.be.lessThan(img.rgb.length * 1.1);
  });

  it('refuses an image whose pixel buffer does not match its size', () => {
    expect(() => new Pyramid({ width: 4, height: 4, rgb: new Uint8Array(47) })).to.throw(RangeError);
    expect(() => new Pyramid({ width: 0, height: 4, rgb: new Uint8Array(0) })).to.throw(RangeError);
    expect(() => new Pyramid({ width: 2.5, height: 2, rgb: new Uint8Array(15) })).to.throw(RangeError);
  });

  it('writes at the offset asked and refuses an output too small', () => {
    const pyr = new Pyramid(randomImage(41, 33));
    const s = spec(rectMap(0, 0, 41, 33, 37, 29));
    const out = new Float32Array(5 + 3 * 37 * 29).fill(-1);
    sampleInto(pyr, s, out, 5);
    expect([...out.subarray(0, 5)]).to.deep.equal([-1, -1, -1, -1, -1]);
    expect(maxDiff(out.subarray(5), sample(pyr, s))).to.equal(0);
    expect(() => sampleInto(pyr, s, new Float32Array(3 * 37 * 29 - 1))).to.throw(RangeError);
  });

  it('serves outputs larger than the first scratch space (the memory grows under its images)', () => {
    const img = randomImage(300, 211, 13);
    const pyr = new Pyramid(img);
    const small = sample(pyr, spec(rectMap(0, 0, 300, 211, 37, 29)));
    const big = sample(pyr, { ...spec([1, 0, 0, 0, 1, 0]), width: 1500, height: 1000, map: rectMap(0, 0, 300, 211, 1500, 1000) });
    expect(big.length).to.equal(3 * 1500 * 1000);
    // The image and its levels are intact after the growth.
    expect(maxDiff(sample(pyr, spec(rectMap(0, 0, 300, 211, 37, 29))), small)).to.equal(0);
    expect(Buffer.from(pyr.level(1).rgb).equals(Buffer.from(referenceHalve(img).rgb))).to.equal(true);
  });
});

describe('PyramidPool', () => {
  const crop = (w: number, h: number) => spec(rectMap(0, 0, w, h, 37, 29));

  it('lends a closed pyramid\'s memory to the next image, which samples as on a fresh one', () => {
    const pool = new PyramidPool();
    const first = randomImage(300, 211, 21), second = randomImage(120, 90, 22);
    const a = pool.pyramid(first);
    sample(a, crop(300, 211));
    a.level(3);
    const lent = a.memoryBytes;
    a.close();
    const b = pool.pyramid(second);
    expect(b.memoryBytes, 'the same, grown arena').to.equal(lent);
    expect(new Pyramid(second).memoryBytes).to.be.lessThan(lent);
    // Same arena, none of the first image's pixels or levels left in what the second sees.
    expect(maxDiff(sample(b, crop(120, 90)), sample(new Pyramid(second), crop(120, 90)))).to.equal(0);
    expect(Buffer.from(b.level(2).rgb).equals(Buffer.from(referenceHalve(referenceHalve(second)).rgb))).to.equal(true);
    b.close();
  });

  it('refuses calls on a closed pyramid, and a second close is harmless', () => {
    const pyr = new PyramidPool().pyramid(randomImage(41, 33));
    pyr.close();
    pyr.close();
    expect(() => sample(pyr, crop(41, 33))).to.throw(/closed/);
    expect(() => pyr.level(1)).to.throw(/closed/);
    expect(() => pyr.levelForStep(64)).to.throw(/closed/);
  });

  it('hands out levels as copies, which the next image in the arena does not change', () => {
    const pool = new PyramidPool();
    const a = pool.pyramid(randomImage(60, 40, 25));
    const half = a.level(1);
    const before = Buffer.from(half.rgb);
    a.close();
    const b = pool.pyramid(randomImage(60, 40, 26));
    b.level(1);
    expect(Buffer.from(half.rgb).equals(before)).to.equal(true);
    b.close();
  });

  it('counts the sampling calls of its pyramids per shape, channels and kernel, until reset', () => {
    const pool = new PyramidPool();
    const pyr = pool.pyramid(randomImage(80, 60, 27));
    sample(pyr, crop(80, 60));
    sample(pyr, crop(80, 60));
    sample(pyr, spec(rotatedRectMap(10, 10, 40, 30, 20, 16, 12), { width: 16, height: 12, channels: 'gray' }));
    sample(pyr, spec([1, 0, 3, 0, 1, -2], { width: 8, height: 4 }));
    // A transpose by whole pixels (source x from the output row, y from the column):
    // a copy of the transposed level, after the transposition (pyramid work).
    sample(pyr, spec([0, 1, 3, 1, 0, 2], { width: 8, height: 4 }));
    pyr.close();
    const stats = pool.stats.snapshot();
    expect(Object.keys(stats).sort()).to.deep.equal(['16x12 gray affine', '37x29 rgb rows', '8x4 rgb copy', PYRAMID_WORK]);
    expect(stats['37x29 rgb rows']!.runs).to.equal(2);
    expect(stats['16x12 gray affine']!.runs).to.equal(1);
    expect(stats['8x4 rgb copy']!.runs).to.equal(2);
    // The image copied into the pyramid's memory, level 1 (the 37x29 crop shrinks by 2.16), the one transposed copy.
    expect(stats[PYRAMID_WORK]!.runs).to.equal(3);
    expect(stats['37x29 rgb rows']!.ms).to.be.at.least(0);
    // A snapshot is a copy; reset empties the tallies.
    stats['37x29 rgb rows']!.runs = 99;
    expect(pool.stats.snapshot()['37x29 rgb rows']!.runs).to.equal(2);
    pool.stats.reset();
    expect(pool.stats.snapshot()).to.deep.equal({});
  });

  it('keeps no arena larger than its limit (a wasm memory cannot shrink)', () => {
    const pool = new PyramidPool(2, 1 << 20);
    const big = pool.pyramid(randomImage(700, 500, 23));
    big.close();
    // The next pyramid gets a fresh arena: its memory starts small.
    expect(big.memoryBytes).to.be.greaterThan(1 << 20);
    expect(pool.pyramid(randomImage(10, 10, 24)).memoryBytes).to.be.lessThan(1 << 20);
  });
});

describe('halve', () => {
  it('averages 2x2 blocks and drops an odd last row and column', () => {
    const src: RgbPlane = { width: 3, height: 3, rgb: new Uint8Array(27) };
    src.rgb.set([0, 0, 0, 100, 100, 100, 9, 9, 9, 200, 200, 200, 100, 100, 100, 9, 9, 9], 0);
    const h = halve(src);
    expect([h.width, h.height]).to.deep.equal([1, 1]);
    expect([...h.rgb]).to.deep.equal([100, 100, 100]);
  });
});

describe('blurEffect', () => {
  const size = 64;
  const patch = (f: (x: number, y: number) => number) => Float32Array.from({ length: size * size }, (_, i) => f(i % size, Math.floor(i / size)));

  it('is low for fine detail, higher for smooth ramps, and 1 for a flat patch', () => {
    const sharp = blurEffect(patch((x, y) => ((x >> 1) + (y >> 1)) % 2 ? 200 : 50), size);
    const smooth = blurEffect(patch((x, y) => 128 + 100 * Math.sin(x / 6) * Math.cos(y / 6)), size);
    expect(sharp).to.be.lessThan(0.2);
    expect(smooth).to.be.greaterThan(0.6);
    expect(blurEffect(patch(() => 99), size)).to.equal(1);
  });

  it('does not depend on brightness or contrast', () => {
    const base = patch((x, y) => 100 + 40 * Math.sin(x / 2 + y / 3));
    const brighter = base.map((v) => v * 1.5 + 20);
    expect(blurEffect(brighter, size)).to.be.closeTo(blurEffect(base, size), 1e-4);
  });
});

describe('model output decoding', () => {
  it('takes the softmax expectation of the 66 pose bins, 3 degrees each from -99', () => {
    const peak = new Float32Array(66).fill(-50);
    peak[33] = 50;
    expect(binnedAngle(peak)).to.be.closeTo(0, 1e-6);
    expect(binnedAngle(new Float32Array(66))).to.be.closeTo(-1.5, 1e-9);
  });

  it('merges SSR-Net stages', () => {
    const p = (a: number, b: number, c: number) => Float32Array.of(a, b, c);
    const zero = p(0, 0, 0);
    // All mass on bin 2 of stage 1 only: 2 / 3 of the range.
    const merged = ssrMerge({ prob: [p(0, 0, 1), zero, zero], delta: [0, 0, 0], offset: [zero, zero, zero] }, 101);
    expect(merged).to.be.closeTo((2 / 3) * 101, 1e-9);
  });

  it('computes a stable softmax', () => {
    const s = softmax([1000, 1000]);
    expect(s[0]).to.be.closeTo(0.5, 1e-12);
  });
});
