// npm run -s score-table [-- --threads N]
// The false-accept / false-reject table the README publishes ("Scores and
// thresholds"), recomputed from the engine as it is now: re-run it after any
// engine change and paste its output.
//
// 1:1 part: every pair of the people photos (40 photos, 8 people: 80
// same-person and 700 different-person pairs), scored as compare does
// (largest face of each photo, cosine of the features, search/score.ts).
// Each transformed set pairs every original photo with the transformed
// copy of every *other* photo (so a photo never meets its own copy): turned
// 90/180/270 degrees, mirrored, brightness x1.5 and x0.5. A photo in which
// no face is found counts as a reject (a false reject for a same-person pair).
//
// 1:N part: the group photos (scenes/bbt*.jpg) searched against one
// enrolled photo per person (as the recognition test enrols them): the
// weakest score of a face's true person and the strongest impostor score.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createOnnxEngine } from '../models/index.js';
import type { DecodeLimits, FaceEngine } from '../models/engine.js';
import { scoreOfCosine, SCORE_KNOTS } from '../server/core/search/score.js';
import { DEFAULT_THRESHOLDS } from '../server/core/thresholds.js';
import { PEOPLE, readPersonPhoto, readScene } from '../test/helpers/paths.js';
import { ENROLLABLE, enrollablePhoto } from '../test/helpers/photos.js';
import { onePerPerson, personAt } from '../test/helpers/scenes.js';

const LIMITS: DecodeLimits = { maxBytes: 16 << 20, maxPixels: 40_000_000, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };

const { values } = parseArgs({ options: { threads: { type: 'string', default: String(availableParallelism()) } } });
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) throw new RangeError('--threads must be a positive integer');

type Transform = { name: string; apply: (png: Buffer) => Promise<Buffer> };
const TRANSFORMS: Transform[] = [
  { name: 'original', apply: async (b) => b },
  { name: 'turned 90°', apply: (b) => sharp(b).rotate(90).png().toBuffer() },
  { name: 'turned 180°', apply: (b) => sharp(b).rotate(180).png().toBuffer() },
  { name: 'turned 270°', apply: (b) => sharp(b).rotate(270).png().toBuffer() },
  { name: 'mirrored', apply: (b) => sharp(b).flop().png().toBuffer() },
  { name: 'brightness x1.5', apply: (b) => sharp(b).modulate({ brightness: 1.5 }).png().toBuffer() },
  { name: 'brightness x0.5', apply: (b) => sharp(b).modulate({ brightness: 0.5 }).png().toBuffer() },
];

async function largestFeature(engine: FaceEngine, bytes: Uint8Array): Promise<Float32Array | null> {
  const image = await engine.decode(bytes, LIMITS);
  const [face] = await engine.detect(image);
  return face ? engine.embed(image, face) : null;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const pct = (n: number, of: number) => (of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`);
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');

const engine = await createOnnxEngine({ intraOpThreads: threads });
try {
  const photos = PEOPLE.flatMap((person) => [1, 2, 3, 4, 5].map((n) => ({ person, bytes: readPersonPhoto(person, n) })));
  const originals = await Promise.all(photos.map((p) => largestFeature(engine, p.bytes)));
  const { compare, recognize } = DEFAULT_THRESHOLDS;

  console.log(`Score map (cosine -> score): ${SCORE_KNOTS.map(([c, s]) => `${c} -> ${s}`).join(', ')}`);
  console.log(`Engine feature model: ${engine.searchModel}\n`);
  console.log('1:1, people photos (FRR = same-person pairs below the threshold, FAR = different-person pairs at or above it):\n');
  console.log(`| set | same pairs | different pairs | photos without a face | lowest same score (faces found) | highest different score | FRR @${compare} | FAR @${compare} | FRR @${recognize} | FAR @${recognize} |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const transform of TRANSFORMS) {
    const variants =
      transform.name === 'original'
        ? originals
        : await Promise.all(photos.map(async (p) => largestFeature(engine, await transform.apply(await sharp(p.bytes).png().toBuffer()))));
    const same: number[] = [];
    const different: number[] = [];
    for (let i = 0; i < photos.length; i++) {
      for (let j = transform.name === 'original' ? i + 1 : 0; j < photos.length; j++) {
        if (i === j) continue;
        const a = originals[i];
        const b = variants[j];
        const score = a && b ? scoreOfCosine(dot(a, b)) : Number.NEGATIVE_INFINITY;
        (photos[i]!.person === photos[j]!.person ? same : different).push(score);
      }
    }
    const below = (xs: number[], t: number) => xs.filter((s) => s < t).length;
    const atLeast = (xs: number[], t: number) => xs.filter((s) => s >= t).length;
    const missing = variants.filter((v) => v === null).length;
    console.log(
      `| ${transform.name} | ${same.length} | ${different.length} | ${missing} / ${photos.length} | ${f1(Math.min(...same.filter(Number.isFinite)))} | ${f1(Math.max(...different))} | ` +
        `${pct(below(same, compare), same.length)} | ${pct(atLeast(different, compare), different.length)} | ` +
        `${pct(below(same, recognize), same.length)} | ${pct(atLeast(different, recognize), different.length)} |`,
    );
  }

  // 1:N on the group photos.
  const enrolled = await Promise.all(onePerPerson(ENROLLABLE).map(async ([person, n]) => ({ person, feature: (await largestFeature(engine, await enrollablePhoto(person, n)))! })));
  console.log(`\n1:N, group photos against one enrolled photo per person (${enrolled.length} people), recognize threshold ${recognize}:\n`);
  console.log('| photo | faces | weakest true match | strongest impostor | recognized as the right person | recognized wrongly |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const scene of ['bbt1.jpg', 'bbt2.jpg', 'bbt3.jpg', 'bbt4.jpg', 'bbt5.jpg']) {
    const image = await engine.decode(readScene(scene), LIMITS);
    const faces = await engine.detect(image);
    let weakest = Infinity;
    let strongest = -Infinity;
    let recognized = 0;
    let wrong = 0;
    for (const face of faces) {
      const feature = await engine.embed(image, face);
      const ranked = enrolled.map((e) => ({ person: e.person, score: scoreOfCosine(dot(feature, e.feature)) })).sort((a, b) => b.score - a.score);
      // Who it is, by the names written per photo (test/helpers/scenes.ts); a
      // face nobody listed, or a person not enrolled, is a stranger.
      const box = { left: face.box.left, top: face.box.top, right: face.box.left + face.box.width, bottom: face.box.top + face.box.height };
      const person = personAt(scene, box);
      const truth = person ? ranked.find((r) => r.person === person) : undefined;
      for (const r of ranked) if (r !== truth) strongest = Math.max(strongest, r.score);
      if (truth) weakest = Math.min(weakest, truth.score);
      if (ranked[0]!.score >= recognize) (truth && ranked[0] === truth ? recognized++ : wrong++);
    }
    console.log(`| ${scene} | ${faces.length} | ${f1(weakest)} | ${f1(strongest)} | ${recognized} | ${wrong} |`);
  }
} finally {
  await engine.close();
}
