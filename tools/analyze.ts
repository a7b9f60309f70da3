// npm run -s analyze -- <image> [--threads N] [--model-dir DIR]
// Prints one JSON object: every face found with box, score, landmarks,
// quality, liveness and attributes, plus per-stage timings. Exit code 2 with
// a one-line message on stderr for a bad image or bad arguments.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createOnnxEngine, type DecodeLimits, type OnnxFaceEngine } from '../models/index.js';
import { isFaceError } from '../server/core/errors.js';

const LIMITS: DecodeLimits = { maxBytes: 32 * 1024 * 1024, maxPixels: 50_000_000, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };

const round = (v: number, digits = 2) => Number(v.toFixed(digits));

function fail(message: string): never {
  process.stderr.write(`analyze: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(2);
}

async function analyze(engine: OnnxFaceEngine, bytes: Uint8Array) {
  const started = performance.now();
  const image = await engine.decode(bytes, LIMITS);
  const decodeMs = engine.lastTimings.decode ?? 0;
  const detected = await engine.detect(image);
  const timings: Record<string, number> = {
    decode: decodeMs,
    detect: engine.lastTimings.detect ?? 0,
    detect_passes: engine.lastDetectPasses,
    searched_rotations: engine.lastSearchedAngles.length,
    landmarks: engine.lastTimings.landmarks ?? 0,
    quality: 0,
    liveness: 0,
    attributes: 0,
  };
  const faces = [];
  for (const face of detected) {
    let t = performance.now();
    const q = await engine.quality(image, face);
    timings.quality! += performance.now() - t;
    t = performance.now();
    const liveness = await engine.liveness(image, face);
    timings.liveness! += performance.now() - t;
    t = performance.now();
    const a = await engine.attributes(image, face);
    timings.attributes! += performance.now() - t;
    faces.push({
      box: { left: round(face.box.left, 1), top: round(face.box.top, 1), width: round(face.box.width, 1), height: round(face.box.height, 1) },
      score: round(face.score, 4),
      // The turn (degrees) of the image or crop in which the face was found upright.
      rotation_searched: face.orientation ?? 0,
      landmarks: face.landmarks.map(([x, y]) => [round(x, 1), round(y, 1)]),
      quality: {
        yaw: round(q.yaw, 1), pitch: round(q.pitch, 1), roll: round(q.roll, 1), blur: round(q.blur, 3),
        brightness: round(q.brightness, 1), brightness_std: round(q.brightnessStd, 1), size: round(q.size, 1), completeness: round(q.completeness, 3),
      },
      liveness: round(liveness, 3),
      age: round(a.age, 1),
      gender: a.gender,
      expression: a.expression,
      eyes: { left: a.eyes.left.open ? 'open' : 'closed', right: a.eyes.right.open ? 'open' : 'closed' },
    });
  }
  timings.total = performance.now() - started;
  return {
    width: image.width,
    height: image.height,
    faces,
    timings_ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, k === 'detect_passes' || k === 'searched_rotations' ? v : round(v, 2)])),
  };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { threads: { type: 'string' }, 'model-dir': { type: 'string' } },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) fail('usage: analyze <image> [--threads N] [--model-dir DIR]');
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) fail('--threads must be a positive integer');

  const path = positionals[0]!;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    fail(`cannot read ${path}: ${(err as Error).message}`);
  }

  const engine = await createOnnxEngine({ modelDir: values['model-dir'], intraOpThreads: threads });
  try {
    process.stdout.write(JSON.stringify(await analyze(engine, bytes)) + '\n');
  } catch (err) {
    if (isFaceError(err)) fail(`${err.code}: ${err.message}`);
    throw err;
  } finally {
    await engine.close();
  }
}

await main();
