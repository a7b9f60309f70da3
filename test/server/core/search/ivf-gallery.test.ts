// The inverted-lists gallery of large groups (approx-gallery.ts) on its own,
// with many lists on a few thousand clustered vectors: scanning every list
// is exact search, scanning a few finds what exact finds for queries near
// an enrolled face, training and filling run in bounded slices, a model
// upgrade's new codes lead to a new training, and a save and load through
// the index files gives the same answers.
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FaceToken, GroupId } from '../../../../server/core/ids.js';
import { ApproxGallery } from '../../../../server/core/search/approx-gallery.js';
import { ExactGallery } from '../../../../server/core/search/exact-gallery.js';
import { IndexFiles } from '../../../../server/core/search/index-files.js';
import { nearestCentroid, SphericalKMeans } from '../../../../server/core/search/kmeans.js';
import { quantize, SCALE } from '../../../../server/core/search/quantize.js';
import { randomUnitFeature } from '../../../helpers/synthetic-faces.js';

const D = 512;
const CLUSTERS = 40;
const PER_CLUSTER = 50;
const token = (i: number) => `t${String(i).padStart(23, '0')}` as FaceToken;

/** A seeded PRNG (mulberry32): the same vectors on every machine. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A unit vector near `centre` (cosine about 0.8). */
function near(centre: Float32Array, random: () => number): Float32Array {
  const noise = randomUnitFeature(D, random);
  const out = new Float32Array(D);
  let norm = 0;
  for (let i = 0; i < D; i++) norm += (out[i] = centre[i]! + 0.75 * noise[i]!) ** 2;
  norm = Math.sqrt(norm);
  for (let i = 0; i < D; i++) out[i]! /= norm;
  return out;
}

describe('ApproxGallery (inverted lists)', function () {
  this.timeout(60_000);
  const random = seeded(42);
  const centres = Array.from({ length: CLUSTERS }, () => randomUnitFeature(D, random));
  const features = Array.from({ length: CLUSTERS * PER_CLUSTER }, (_, i) => near(centres[i % CLUSTERS]!, random));
  const queries = Array.from({ length: 100 }, (_, q) => quantize(near(features[(q * 37) % features.length]!, random)));

  function exactOf(): ExactGallery {
    const exact = new ExactGallery(D);
    features.forEach((f, i) => exact.upsert(token(i), quantize(f), i % 3 === 0 ? { userId: `user${i % 7}` } : undefined));
    return exact;
  }
  function built(params = { lists: 32, probes: 32 }): ApproxGallery {
    const gallery = ApproxGallery.fromExact(exactOf(), params, 1);
    let slices = 0;
    while (gallery.staged > 0) {
      // Small slices, as the background task gives them: every step is bounded.
      expect(gallery.indexStaged(200, 1)).to.be.at.most(200);
      slices++;
    }
    expect(slices).to.be.greaterThan(10);
    return gallery;
  }
  const best = (g: { candidates(q: Int8Array, k: number): Array<{ faceToken: FaceToken }> }) => queries.map((q) => g.candidates(q, 5).map((c) => c.faceToken));

  it('trains the lists it was asked for and, scanning all of them, answers exactly what exact search answers', function () {
    const gallery = built();
    expect(gallery.listCount).to.equal(32);
    expect(gallery.indexed).to.equal(features.length);
    // Integer dot products: the same scores exactly, and per score the same faces (equal scores may come in either order).
    const answers = (g: ApproxGallery | ExactGallery) =>
      queries.map((q) => {
        const found = g.candidates(q, 10);
        const byScore = new Map<number, string[]>();
        for (const c of found) byScore.set(c.approxCosine, [...(byScore.get(c.approxCosine) ?? []), c.faceToken].sort());
        // The last score's faces may be cut at 10, differently by each index.
        byScore.delete(found[found.length - 1]!.approxCosine);
        return [...byScore.entries()];
      });
    expect(answers(gallery)).to.deep.equal(answers(exactOf()));
  });

  it('scanning a few lists still finds the best match of queries near an enrolled face', function () {
    const gallery = built({ lists: 32, probes: 4 });
    const exact = exactOf();
    const agree = queries.filter((q) => gallery.candidates(q, 1)[0]?.faceToken === exact.candidates(q, 1)[0]?.faceToken).length;
    expect(agree).to.be.at.least(97);
  });

  it('gives a small group fewer lists, so each has rows to place its centroid', function () {
    const small = new ExactGallery(D);
    features.slice(0, 100).forEach((f, i) => small.upsert(token(i), quantize(f)));
    const gallery = ApproxGallery.fromExact(small, { lists: 1024, probes: 64 }, 1);
    while (gallery.staged > 0) gallery.indexStaged(1000, 1);
    expect(gallery.listCount).to.equal(3);
  });

  it('finds a face bound after training at once, forgets a removed one, and keeps users', function () {
    const gallery = built({ lists: 32, probes: 2 });
    const late = quantize(near(centres[3]!, random));
    gallery.upsert(token(99_999), late, { userId: 'late' });
    expect(gallery.candidates(late, 1)[0]!.faceToken).to.equal(token(99_999));
    gallery.indexStaged(10, 1);
    expect(gallery.staged).to.equal(0);
    expect(gallery.candidates(late, 1)[0]!.faceToken).to.equal(token(99_999));
    expect(gallery.userOf(token(99_999))).to.deep.equal({ userId: 'late' });
    expect(gallery.tokensOfUser('late')).to.deep.equal([token(99_999)]);
    // A replay with an empty code changes the user only.
    gallery.upsert(token(99_999), new Int8Array(0), { userId: 'renamed' });
    expect(gallery.tokensOfUser('late')).to.deep.equal([]);
    expect(gallery.candidates(late, 1)[0]!.faceToken).to.equal(token(99_999));
    expect(gallery.remove(token(99_999))).to.equal(true);
    expect(gallery.candidates(late, 5).map((c) => c.faceToken)).to.not.include(token(99_999));
    expect(gallery.remove(token(99_999))).to.equal(false);
    expect(gallery.tokensOfUser('user0').length).to.equal(exactOf().tokensOfUser('user0').length);
  });

  /** Another model's features: other clusters. */
  const freshCentres = Array.from({ length: CLUSTERS }, () => randomUnitFeature(D, random));
  const fresh = features.map((_, i) => near(freshCentres[i % CLUSTERS]!, random));
  /** Of queries near a fresh feature, how many find it with 2 of 32 lists scanned (stale centroids find few). */
  const freshRecall = (gallery: ApproxGallery, upgraded: number) => {
    let found = 0;
    for (let q = 0; q < 100; q++) {
      const i = (q * 37) % upgraded;
      if (gallery.candidates(quantize(near(fresh[i]!, random)), 1)[0]?.faceToken === token(i)) found++;
    }
    return found;
  };

  it('trains again once a quarter of the faces changed their code (a model upgrade), searchable throughout', function () {
    const gallery = built({ lists: 32, probes: 2 });
    const upgraded = Math.ceil(features.length * 0.3);
    for (let i = 0; i < upgraded; i++) gallery.upsert(token(i), quantize(fresh[i]!));
    let retrained = false;
    while (gallery.staged > 0) {
      gallery.indexStaged(300, 1);
      if (gallery.listCount === 0) retrained = true;
      // Every face is found by its current code at every step.
      for (const i of [0, upgraded - 1, upgraded, features.length - 1]) {
        const code = i < upgraded ? quantize(fresh[i]!) : quantize(features[i]!);
        expect(gallery.candidates(code, 1)[0]!.faceToken).to.equal(token(i));
      }
    }
    expect(retrained).to.equal(true);
    expect(gallery.listCount).to.equal(32);
    expect(gallery.size).to.equal(features.length);
  });

  it('counts new codes that arrive while it trains or fills, and trains again with them', function () {
    const stale = ApproxGallery.fromExact(exactOf(), { lists: 32, probes: 2 }, 1);
    // Some training first: the sample holds the old codes.
    for (let i = 0; i < 5; i++) stale.indexStaged(200, 1);
    expect(stale.phase).to.equal('training');
    const upgraded = features.length;
    for (let i = 0; i < upgraded; i++) stale.upsert(token(i), quantize(fresh[i]!));
    const phases = new Set<string>();
    while (stale.staged > 0) {
      phases.add(stale.phase);
      stale.indexStaged(300, 1);
    }
    expect([...phases]).to.include.members(['training', 'filling', 'draining']);
    expect(freshRecall(stale, upgraded)).to.be.at.least(90);
  });

  it('keeps the faces of a slice that fails in staging, searchable', function () {
    const gallery = ApproxGallery.fromExact(exactOf(), { lists: 32, probes: 32 }, 1);
    while (gallery.phase === 'training') gallery.indexStaged(500, 1);
    gallery.indexStaged(100, 1);
    const staged = gallery.staged;
    // usearch refuses a negative thread count: the native step throws after the faces were taken.
    expect(() => gallery.indexStaged(100, -1)).to.throw();
    expect(gallery.staged).to.equal(staged);
    expect(gallery.size).to.equal(features.length);
    const last = features.length - 1;
    expect(gallery.candidates(quantize(features[last]!), 1)[0]!.faceToken).to.equal(token(last));
  });

  it('trains again with more lists once a group trained small has grown fourfold', function () {
    const small = new ExactGallery(D);
    features.slice(0, 320).forEach((f, i) => small.upsert(token(i), quantize(f)));
    const gallery = ApproxGallery.fromExact(small, { lists: 32, probes: 32 }, 1);
    while (gallery.staged > 0) gallery.indexStaged(1000, 1);
    expect(gallery.listCount).to.equal(10);
    features.slice(320, 1280).forEach((f, i) => gallery.upsert(token(320 + i), quantize(f)));
    while (gallery.staged > 0) gallery.indexStaged(1000, 1);
    expect(gallery.listCount).to.equal(32);
    expect(gallery.indexed).to.equal(1280);
  });

  it('saves and loads through the index files: same lists, same answers, same users', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'ivf-files-'));
    try {
      const gallery = built({ lists: 32, probes: 6 });
      gallery.upsert(token(77_777), quantize(features[5]!), { userId: 'staged', userInfo: 'kept' });
      const files = new IndexFiles(dir);
      await files.open();
      await files.save(7 as GroupId, gallery, { version: 3, model: 'm', scale: SCALE });
      const loaded = await files.load(7 as GroupId, { model: 'm', dimensions: D, scale: SCALE, params: { lists: 32, probes: 6 } }, 1);
      if (!loaded.ok) throw new Error(loaded.reason);
      expect(loaded.meta.staged).to.deep.equal([token(77_777)]);
      expect(loaded.gallery.listCount).to.equal(32);
      expect(loaded.gallery.indexed).to.equal(features.length);
      const listed = best(gallery).map((tokens) => tokens.filter((t) => t !== token(77_777)));
      expect(best(loaded.gallery)).to.deep.equal(listed);
      expect(loaded.gallery.tokensOfUser('user3')).to.have.members(gallery.tokensOfUser('user3'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a save\'s snapshot does not change while the gallery does (codes shared copy-on-write)', function () {
    const gallery = built({ lists: 32, probes: 32 });
    const { lists } = gallery.snapshot();
    const before = lists.lists.map((l) => ({ tokens: [...l.tokens], codes: l.codes.slice() }));
    const victim = lists.lists.find((l) => l.tokens.length > 1)!.tokens[0]!;
    gallery.remove(victim);
    for (let i = 0; i < 50; i++) gallery.upsert(token(i), quantize(fresh[i]!));
    while (gallery.staged > 0) gallery.indexStaged(500, 1);
    expect(lists.lists.map((l) => ({ tokens: l.tokens, codes: l.codes }))).to.deep.equal(before);
    expect(gallery.has(victim)).to.equal(false);
  });

  it('k-means: every row goes to its nearest centroid, and rows read from a view are the view\'s rows', function () {
    const codes = new Int8Array(features.length * D);
    features.forEach((f, i) => codes.set(quantize(f), i * D));
    const kmeans = new SphericalKMeans(codes, D, CLUSTERS, 4);
    while (!kmeans.done) kmeans.step(500, 1);
    // A view into the middle of the matrix: usearch alone would read the buffer's first rows.
    const view = codes.subarray(1000 * D, 1010 * D);
    const nearest = nearestCentroid(kmeans.centroids, view, D, 1);
    for (let r = 0; r < 10; r++) {
      let bestDot = -Infinity;
      let bestList = -1;
      for (let c = 0; c < CLUSTERS; c++) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += view[r * D + i]! * kmeans.centroids[c * D + i]!;
        if (dot > bestDot) [bestDot, bestList] = [dot, c];
      }
      expect(nearest[r]).to.equal(bestList);
    }
  });
});
