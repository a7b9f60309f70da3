import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { cosineSimilarity, createOnnxEngine, searchModelOf, type DecodedImage, type DetectedFace, type OnnxFaceEngine } from '../../models/index.js';
import { ErrorCode, FaceError } from '../../server/core/errors.js';
import { LIMITS, PEOPLE_PHOTOS, scene } from './fixtures.js';

// Faces counted by eye in each group photo.
const GROUP_FACES: Record<string, number> = {
  'bbt1.jpg': 4, // four men on the sofa
  'bbt2.jpg': 3, // two at the table, one (blurred, cut by the left edge) in the background
  'bbt3.jpg': 5,
  'bbt4.jpg': 6,
  'bbt5.jpg': 5,
};
const EXPRESSIONS = ['angry', 'disgusted', 'fearful', 'happy', 'neutral', 'sad', 'surprised'] as const;

describe('OnnxFaceEngine', function () {
  this.timeout(120_000);
  let engine: OnnxFaceEngine;
  // Each people/ photo decoded and detected once, shared by the tests below.
  const people: { person: string; file: string; path: string; image: DecodedImage; faces: DetectedFace[] }[] = [];

  before(async () => {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    for (const p of PEOPLE_PHOTOS) {
      const image = await engine.decode(readFileSync(p.path), LIMITS);
      people.push({ ...p, image, faces: await engine.detect(image) });
    }
  });

  after(async () => {
    await engine?.close();
  });

  it('names the feature model and every model version by model name and sha256 prefix', async () => {
    expect(engine.searchModel).to.match(/^feature-[0-9a-f]{12}$/);
    expect(engine.featureLength).to.equal(512);
    expect(Object.keys(engine.modelVersions).sort()).to.deep.equal(
      ['age', 'detect', 'expression', 'eye', 'feature', 'gender', 'landmark', 'liveness']);
    for (const [model, version] of Object.entries(engine.modelVersions)) expect(version).to.match(new RegExp(`^${model}-[0-9a-f]{12}$`));
    expect(engine.modelVersions.feature).to.equal(engine.searchModel);
    // Known from the manifest alone, without opening a session.
    expect(await searchModelOf()).to.equal(engine.searchModel);
  });

  it('finds exactly one face in each of the 40 people/ photos, including tight crops', () => {
    expect(people).to.have.length(40);
    for (const p of people) {
      expect(p.faces, `${p.person}/${p.file}`).to.have.length(1);
      const face = p.faces[0]!;
      expect(face.landmarks).to.have.length(68);
      expect(face.score).to.be.within(0.7, 1);
    }
  });

  it('finds no face in a blank image', async () => {
    const image = await engine.decode(scene('blank-white.png'), LIMITS);
    expect(await engine.detect(image)).to.deep.equal([]);
  });

  for (const [file, count] of Object.entries(GROUP_FACES)) {
    it(`finds the ${count} faces of ${file}, largest first`, async () => {
      const faces = await engine.detect(await engine.decode(scene(file), LIMITS));
      expect(faces).to.have.length(count);
      for (let i = 1; i < faces.length; i++) expect(faces[i - 1]!.box.width).to.be.at.least(faces[i]!.box.width);
    });
  }

  it('identifies every people/ photo rank-1 among the other 39 by cosine similarity', async () => {
    const features = await Promise.all(people.map((p) => engine.embed(p.image, p.faces[0]!)));
    for (const f of features) {
      let norm = 0;
      for (const v of f) norm += v * v;
      expect(norm).to.be.closeTo(1, 1e-4);
    }
    const misses: string[] = [];
    let sameMin = 1, otherMax = -1;
    features.forEach((f, i) => {
      let best = -2, bestJ = -1;
      features.forEach((g, j) => {
        if (i === j) return;
        const s = cosineSimilarity(f, g);
        if (people[i]!.person === people[j]!.person) sameMin = Math.min(sameMin, s);
        else otherMax = Math.max(otherMax, s);
        if (s > best) [best, bestJ] = [s, j];
      });
      if (people[bestJ]!.person !== people[i]!.person) misses.push(`${people[i]!.person}/${people[i]!.file} -> ${people[bestJ]!.person}`);
    });
    console.log(`      same person min ${sameMin.toFixed(3)}, different people max ${otherMax.toFixed(3)}`);
    expect(misses).to.deep.equal([]);
  });

  it('names at least 5 of the 7 scenes/<expression>.jpg expressions', async () => {
    const right: string[] = [];
    const wrong: string[] = [];
    for (const expected of EXPRESSIONS) {
      const image = await engine.decode(scene(`${expected}.jpg`), LIMITS);
      const [face] = await engine.detect(image);
      const { expression, expressionScore } = await engine.attributes(image, face!);
      (expression === expected ? right : wrong).push(`${expected}${expression === expected ? '' : ` (got ${expression})`} ${expressionScore.toFixed(2)}`);
    }
    console.log(`      recognised: ${right.join(', ')}`);
    console.log(`      missed: ${wrong.join(', ') || 'none'}`);
    expect(right.length).to.be.at.least(5);
  });

  it('reports plausible quality for the people/ photos: sharp, frontal-ish, well exposed', async () => {
    for (const p of people) {
      const q = await engine.quality(p.image, p.faces[0]!);
      const name = `${p.person}/${p.file}`;
      expect(q.blur, name).to.be.within(0, 0.2);
      for (const angle of [q.yaw, q.pitch, q.roll]) expect(angle, name).to.be.within(-60, 60);
      expect(q.brightness, name).to.be.within(30, 230);
      expect(q.brightnessStd, name).to.be.within(10, 100);
      expect(q.size, name).to.be.within(100, 250);
      // Tight crops: the face's square reaches past the frame (stuart/5: by half).
      expect(q.completeness, name).to.be.within(0.4, 1);
    }
  });

  it('scores a blurred copy (sharp.blur sigma 3) of every people/ photo above 0.2 blur', async () => {
    for (const p of people) {
      const blurred = await engine.decode(await sharp(readFileSync(p.path)).blur(3).png().toBuffer(), LIMITS);
      const q = await engine.quality(blurred, p.faces[0]!);
      expect(q.blur, `${p.person}/${p.file}`).to.be.greaterThan(0.2);
    }
  });

  it('gives the expected genders, open eyes and live faces on a group photo', async () => {
    const image = await engine.decode(scene('bbt4.jpg'), LIMITS);
    const faces = (await engine.detect(image)).sort((a, b) => a.box.left - b.box.left);
    const genders: string[] = [];
    for (const face of faces) {
      const a = await engine.attributes(image, face);
      genders.push(a.gender);
      expect(a.eyes.left.open && a.eyes.right.open).to.equal(true);
      expect(a.age).to.be.within(18, 70);
      expect(await engine.liveness(image, face)).to.be.greaterThan(0.5);
    }
    // Left to right: Leonard, Amy, Raj, Penny, Sheldon, Bernadette.
    expect(genders).to.deep.equal(['male', 'female', 'male', 'female', 'male', 'female']);
  });

  it('rejects an image object that is not decoded RGB', async () => {
    const bad = { format: 'png', width: 10, height: 10, rgb: new Uint8Array(5) } as DecodedImage;
    const err = await engine.detect(bad).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FaceError).with.property('code', ErrorCode.IllegalArgument);
  });

  it('serves concurrent calls on the same engine', async () => {
    const sample = people.slice(0, 6);
    const results = await Promise.all(sample.map((p) => engine.embed(p.image, p.faces[0]!)));
    const again = await engine.embed(sample[0]!.image, sample[0]!.faces[0]!);
    expect(cosineSimilarity(results[0]!, again)).to.be.closeTo(1, 1e-5);
  });

  // Last: closes the shared engine (after() closing it again is a no-op).
  it('close() lets queued calls finish, releases the sessions, then refuses calls with a clear error', async () => {
    const { image, faces } = people[0]!;
    const pending = engine.embed(image, faces[0]!);
    await engine.close();
    expect(await pending).to.have.length(512);
    await engine.close();
    for (const call of [() => engine.detect(image), () => engine.embed(image, faces[0]!), () => engine.decode(scene('blank-white.png'), LIMITS)]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(FaceError);
      expect((err as FaceError).message).to.match(/closed/);
    }
  });
});
