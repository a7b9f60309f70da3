// npm run bench:resample [-- --calls N]
// The resampling kernels (models/resample/resample.c) on the model inputs
// the engine makes from a 700x700 enrolment photo: microseconds per call and
// nanoseconds per output pixel, each against the floor every call pays in
// the same run, the copy of its output out of the wasm memory (a
// Float32Array.set of the same length). What bench:load's pipeline part
// counts as "resampling" per photo is these calls (its per-shape tallies)
// plus the pyramid's own work, which is already done here before timing.
import { parseArgs } from 'node:util';
import { decodeImage } from '../models/decode.js';
import { PyramidPool, rectMap, rotatedRectMap, type SampleSpec } from '../models/image-ops.js';
import { DETECT_HEIGHT, DETECT_WIDTH } from '../models/detect.js';
import { enrollablePhoto } from '../test/helpers/photos.js';
import { positive } from './bench-common.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '300' } } });
const calls = positive('calls', values.calls);

const image = await decodeImage(await enrollablePhoto('amy', 2), { maxBytes: 1 << 24, maxPixels: 40_000_000, minSide: 1, formats: ['png'] });
const pyramids = new PyramidPool();
const pyr = pyramids.pyramid(image);
const detector = { width: DETECT_WIDTH, height: DETECT_HEIGHT, channels: 'rgb', mean: [127, 127, 127], scale: [1 / 128, 1 / 128, 1 / 128], border: 127 } as const;
// The engine's inputs (detect.ts, face-geometry.ts, align.ts): the face is the 300x300 square at (200, 200).
const global = 1 / (0.9 * DETECT_HEIGHT / image.height);
const cases: Array<[string, SampleSpec]> = [
  ['detector global pass (rows)', { ...detector, map: [global, 0, 0.5 * global - 0.5 - 78, 0, global, 0.5 * global - 0.5 - 35] }],
  ['detector tile pass (whole-pixel copy)', { ...detector, map: [2, 0, 0.5, 0, 2, 0.5] }],
  ['detector tile pass at the edge (copy)', { ...detector, map: [2, 0, -79.5, 0, 2, 0.5] }],
  ['detector pass turned 90 (transposed rows)', { ...detector, map: [0, -global, 700, global, 0, -40] }],
  ['detector pass turned 45 (affine)', { ...detector, map: [2.2, -2.2, 350, 2.2, 2.2, -100] }],
  ['landmark crop 64x64 gray, upright (rows)', { width: 64, height: 64, map: rectMap(200, 200, 300, 300, 64, 64), channels: 'gray', mean: [0], scale: [1 / 256], border: 'replicate' }],
  ['landmark crop 64x64 gray, turned 10 (affine)', { width: 64, height: 64, map: rotatedRectMap(200, 200, 300, 300, 10, 64, 64), channels: 'gray', mean: [0], scale: [1 / 256], border: 'replicate' }],
  ['second-look cell 96x96 (affine)', { ...detector, width: 96, height: 96, map: rotatedRectMap(220, 220, 260, 260, 5, 96, 96), border: 0 }],
  ['aligned face 112x112 (affine)', { ...detector, width: 112, height: 112, map: rotatedRectMap(220, 220, 260, 260, 5, 112, 112), border: 0 }],
];

/** Microseconds per call of `f`, after a warm-up of a fifth as many. */
function perCall(f: () => void, n: number): number {
  for (let i = 0; i < Math.ceil(n / 5); i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t) * 1000) / n;
}

console.log(`Resampling kernels on a ${image.width}x${image.height} enrolment photo, ${calls} calls each (x10 for outputs under 10,000 pixels)`);
console.log('                                                    us/call   ns/px   output copy us   x copy');
for (const [name, spec] of cases) {
  const length = (spec.channels === 'gray' ? 1 : 3) * spec.width * spec.height;
  const out = new Float32Array(length), source = new Float32Array(length);
  const n = spec.width * spec.height < 10_000 ? 10 * calls : calls;
  const us = perCall(() => pyr.sample(spec, out, 0), n);
  const copy = perCall(() => out.set(source), n);
  console.log(`  ${name.padEnd(48)}${us.toFixed(1).padStart(9)}${((us * 1000) / (spec.width * spec.height)).toFixed(2).padStart(8)}${copy.toFixed(1).padStart(17)}${(us / copy).toFixed(1).padStart(9)}`);
}
pyr.close();
