// npm run bench:engine [-- --threads N --runs N --rounds N --keep-denormals]
// 1. Raw inference of each model: warm, median of N runs of a bare session
//    (same options as the engine's) on a random input, no preprocessing.
// 2. The enrolment pipeline (decode, detect, landmarks, align, feature,
//    quality) on every photo of test/fixtures/faces/people, per stage, per face.
// 3. The ratio pipeline / raw, where raw is the sum of the raw medians of the
//    model runs the pipeline made (detector passes + landmark + feature + pose).
// Raw runs and pipeline rounds alternate, so both see the same machine load.
import { readFile, readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR, INPUT_DIMS, MODEL_FILES, createOnnxEngine, sessionOptions, type ModelName } from '../models/onnx-engine.js';
import { SessionQueue } from '../models/session-queue.js';
import type { DecodeLimits } from '../models/engine.js';
import { addTally, mean, median } from './bench-common.js';
import { FACES_DIR } from '../test/helpers/paths.js';

const PEOPLE = join(FACES_DIR, 'people');
const LIMITS: DecodeLimits = { maxBytes: 16 << 20, maxPixels: 40_000_000, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };
const STAGES = ['decode', 'detect', 'landmarks', 'align', 'feature', 'quality'] as const;
const MODELS = Object.keys(MODEL_FILES) as ModelName[];

const fmt = (v: number) => v.toFixed(2).padStart(9);

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: String(availableParallelism()) },
    runs: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    // Stock ORT numerics: several times slower inference (see session-queue.ts).
    'keep-denormals': { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads), runs = Number(values.runs), rounds = Number(values.rounds);
for (const [name, v] of Object.entries({ threads, runs, rounds })) {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer`);
}
const flushDenormals = !values['keep-denormals'];

// Bare sessions with the engine's options, each fed one random input.
const raw = await Promise.all(MODELS.map(async (name) => {
  const session = await SessionQueue.open(name, join(DEFAULT_MODEL_DIR, MODEL_FILES[name]), sessionOptions(name, threads, flushDenormals));
  const dims = INPUT_DIMS[name];
  const input = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1);
  return { name, session, dims, input, times: [] as number[] };
}));
async function rawRuns(count: number, record: boolean): Promise<void> {
  for (const r of raw) {
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await r.session.run(r.input, r.dims);
      if (record) r.times.push(performance.now() - t);
    }
  }
}

const files: string[] = [];
for (const person of (await readdir(PEOPLE)).sort()) {
  for (const f of (await readdir(join(PEOPLE, person))).sort()) files.push(join(PEOPLE, person, f));
}
const photos = await Promise.all(files.map((f) => readFile(f)));
const engine = await createOnnxEngine({ intraOpThreads: threads, flushDenormals });
const perStage: Record<string, number[]> = Object.fromEntries(STAGES.map((s) => [s, []]));
const totals: number[] = [];
const inferMs: number[] = [];
const passes: number[] = [];
const perModel: Record<string, { runs: number; ms: number }> = {};

await rawRuns(3, false);
// Round 0 warms caches, the JIT and the allocator; it is not counted.
for (let round = 0; round <= rounds; round++) {
  for (const bytes of photos) {
    engine.resetInferenceStats();
    const t = performance.now();
    const image = await engine.decode(bytes, LIMITS);
    const [face] = await engine.detect(image);
    if (!face) throw new Error('no face in a people/ photo');
    await engine.embed(image, face);
    await engine.quality(image, face);
    const total = performance.now() - t;
    if (round === 0) continue;
    const lt = engine.lastTimings;
    perStage.decode!.push(lt.decode!);
    perStage.detect!.push(lt.detect!);
    perStage.landmarks!.push(lt.landmarks!);
    perStage.align!.push(lt.align!);
    perStage.feature!.push(lt.feature!);
    perStage.quality!.push(lt.quality!);
    totals.push(total);
    passes.push(engine.lastDetectPasses);
    const stats = engine.inferenceStats();
    inferMs.push(Object.values(stats).reduce((sum, x) => sum + x.ms, 0));
    for (const [model, x] of Object.entries(stats)) addTally(perModel, model, x);
  }
  if (round > 0) await rawRuns(Math.ceil(runs / rounds), true);
}
// The same photos turned by a quarter turn: the turned passes are searched.
const turnedTotals: number[] = [], turnedPasses: number[] = [];
for (const bytes of await Promise.all(photos.map((b) => sharp(b).rotate(90).png().toBuffer()))) {
  const t = performance.now();
  const image = await engine.decode(bytes, LIMITS);
  const [face] = await engine.detect(image);
  if (face) {
    await engine.embed(image, face);
    await engine.quality(image, face);
  }
  turnedTotals.push(performance.now() - t);
  turnedPasses.push(engine.lastDetectPasses);
}
await engine.close();
await Promise.all(raw.map((r) => r.session.close()));

const rawMs = Object.fromEntries(raw.map((r) => [r.name, median(r.times)])) as Record<ModelName, number>;
console.log(`Raw inference, warm, median of ${raw[0]!.times.length} runs (intra-op threads: ${threads}, denormals ${flushDenormals ? 'flushed' : 'kept'})`);
console.log('  model        ms');
for (const name of MODELS) console.log(`  ${name.padEnd(10)}${fmt(rawMs[name])}`);

const runsPerPhoto = (model: string) => (perModel[model]?.runs ?? 0) / totals.length;
const rawPerFace = MODELS.reduce((sum, m) => sum + runsPerPhoto(m) * rawMs[m], 0);
// The rotation search on an upright photo: the three other quarter turns'
// landmark runs (two each, see models/face-geometry.ts); their second look
// shares the one detector run that the real-face check makes anyway.
const rotationSearchMs = 6 * rawMs.landmark;
console.log(`\nEnrolment pipeline over ${files.length} people/ photos x ${rounds} rounds (ms per face)`);
console.log('  stage          mean   median');
for (const [stage, xs] of Object.entries(perStage)) console.log(`  ${stage.padEnd(10)}${fmt(mean(xs))}${fmt(median(xs))}`);
console.log(`  ${'pipeline'.padEnd(10)}${fmt(mean(totals))}${fmt(median(totals))}`);

console.log('\n  model inference inside the pipeline vs raw (ms per run)');
for (const [model, x] of Object.entries(perModel)) {
  if (x.runs > 0) console.log(`  ${model.padEnd(10)}${fmt(x.ms / x.runs)}${fmt(rawMs[model as ModelName])}`);
}
console.log(`\n  detector passes per photo: ${mean(passes).toFixed(2)}`);
console.log(`  model runs per photo: ${MODELS.filter((m) => runsPerPhoto(m) > 0).map((m) => `${m} ${runsPerPhoto(m).toFixed(2)}`).join(', ')}`);
console.log(`  raw inference the pipeline runs (runs x raw ms per model): ${rawPerFace.toFixed(2)} ms`);
console.log(`  rotation search on an upright photo: 6 landmark runs = ${rotationSearchMs.toFixed(2)} ms, ${(100 * rotationSearchMs / mean(totals)).toFixed(1)}% of the pipeline (goal < 5%)`);
console.log(`  a photo turned by 90 degrees: pipeline ${mean(turnedTotals).toFixed(2)} ms mean, ${(mean(turnedTotals) / mean(totals)).toFixed(2)}x the upright photo, ${mean(turnedPasses).toFixed(1)} detector runs`);
console.log(`  inference measured inside the pipeline: ${mean(inferMs).toFixed(2)} ms; everything else: ${(mean(totals) - mean(inferMs)).toFixed(2)} ms`);
console.log(`  ratio pipeline / raw inference: ${(mean(totals) / rawPerFace).toFixed(3)} (mean), ${(median(totals) / rawPerFace).toFixed(3)} (median) (goal <= 1.15)`);
