// npm run -s engine-diff -- --write before.json      (on the old engine)
// npm run -s engine-diff -- --against before.json    (on the changed one)
// Whether an engine change keeps its answers: every face the engine finds
// on 262 test inputs (the people/ photos upright and turned by 15, 30, 45,
// 90 and 180 degrees, the scenes/, the enrolment photos), with box, pose and
// feature. --against prints the inputs whose face count changed, the lowest
// feature cosines and the largest pose changes; exit code 1 when a count
// changed or a cosine is below --min-cosine (default 0.9999).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createOnnxEngine, cosineSimilarity, type Box } from '../models/index.js';
import { FACES_DIR, LIMITS, PEOPLE_PHOTOS } from '../test/models/fixtures.js';
import { ENROLLABLE, enrollablePhoto } from '../test/helpers/photos.js';

const { values } = parseArgs({ options: { write: { type: 'string' }, against: { type: 'string' }, 'min-cosine': { type: 'string', default: '0.9999' } } });
if (!values.write === !values.against) {
  process.stderr.write('engine-diff: give --write FILE or --against FILE\n');
  process.exit(2);
}

interface Face { box: Box; roll: number; yaw: number; pitch: number; feature: number[] }

const inputs: Array<[string, Buffer]> = [];
for (const p of PEOPLE_PHOTOS) {
  const src = readFileSync(p.path);
  inputs.push([`${p.person}/${p.file}`, src]);
  for (const angle of [15, 30, 45, 90, 180]) inputs.push([`${p.person}/${p.file}@${angle}`, await sharp(src).rotate(angle, { background: '#808080' }).png().toBuffer()]);
}
for (const name of readdirSync(`${FACES_DIR}/scenes`).sort()) inputs.push([`scenes/${name}`, readFileSync(`${FACES_DIR}/scenes/${name}`)]);
for (const [person, n] of ENROLLABLE) inputs.push([`enrol/${person}${n}`, await enrollablePhoto(person, n)]);

const engine = await createOnnxEngine({ intraOpThreads: 1 });
const found: Record<string, Face[]> = {};
let passes = 0;
const started = performance.now();
for (const [name, bytes] of inputs) {
  const image = await engine.decode(bytes, LIMITS);
  const faces = await engine.detect(image);
  passes += engine.lastDetectPasses;
  found[name] = [];
  for (const face of faces) {
    const q = await engine.quality(image, face);
    found[name].push({ box: face.box, roll: q.roll, yaw: q.yaw, pitch: q.pitch, feature: Array.from(await engine.embed(image, face)) });
  }
}
await engine.close();
console.log(`${inputs.length} inputs, ${Object.values(found).flat().length} faces, ${passes} detector passes, ${((performance.now() - started) / 1000).toFixed(1)} s`);

if (values.write) {
  writeFileSync(values.write, JSON.stringify(found));
  process.exit(0);
}
const before = JSON.parse(readFileSync(values.against!, 'utf8')) as Record<string, Face[]>;
const minCosine = Number(values['min-cosine']);
const counts: string[] = [];
const cosines: Array<[number, string]> = [];
let roll = 0, yaw = 0, pitch = 0;
for (const [name, faces] of Object.entries(found)) {
  const old = before[name] ?? [];
  if (old.length !== faces.length) {
    counts.push(`${name}: ${old.length} -> ${faces.length} faces`);
    continue;
  }
  faces.forEach((face, i) => {
    cosines.push([cosineSimilarity(Float32Array.from(face.feature), Float32Array.from(old[i]!.feature)), `${name}#${i}`]);
    roll = Math.max(roll, Math.abs(face.roll - old[i]!.roll));
    yaw = Math.max(yaw, Math.abs(face.yaw - old[i]!.yaw));
    pitch = Math.max(pitch, Math.abs(face.pitch - old[i]!.pitch));
  });
}
cosines.sort((a, b) => a[0] - b[0]);
for (const line of counts) console.log(`  count changed: ${line}`);
console.log(`  lowest feature cosines: ${cosines.slice(0, 5).map(([c, n]) => `${c.toFixed(6)} ${n}`).join(', ')}`);
console.log(`  largest change of roll ${roll.toFixed(2)}, yaw ${yaw.toFixed(2)}, pitch ${pitch.toFixed(2)} degrees`);
process.exit(counts.length > 0 || (cosines[0]?.[0] ?? 1) < minCosine ? 1 : 0);
