import { expect } from 'chai';
import { ExactGallery } from '../../../../server/core/search/exact-gallery.js';
import { quantize } from '../../../../server/core/search/quantize.js';
import type { FaceToken } from '../../../../server/core/ids.js';
import { randomUnitFeature } from '../../../helpers/synthetic-faces.js';

const token = (i: number) => `tok${String(i).padStart(21, '0')}` as FaceToken;
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe('ExactGallery', function () {
  it('finds the same best candidates as a float32 brute force', function () {
    const gallery = new ExactGallery(512);
    const features = Array.from({ length: 300 }, () => randomUnitFeature());
    features.forEach((f, i) => gallery.upsert(token(i), quantize(f)));
    for (let q = 0; q < 20; q++) {
      // A noisy copy of a gallery face: its own face must come first.
      const target = features[q * 7]!;
      const noise = randomUnitFeature();
      const query = target.map((v, i) => v + 0.6 * noise[i]!);
      const norm = Math.hypot(...query);
      const unit = query.map((v) => v / norm);
      const [best] = gallery.candidates(quantize(unit), 5);
      expect(best!.faceToken).to.equal(token(q * 7));
      expect(best!.approxCosine).to.be.closeTo(dot(unit, target), 0.01);
    }
  });

  it('returns at most the gallery size, best first', function () {
    const gallery = new ExactGallery(512);
    expect(gallery.candidates(quantize(randomUnitFeature()), 5)).to.deep.equal([]);
    for (let i = 0; i < 3; i++) gallery.upsert(token(i), quantize(randomUnitFeature()));
    const found = gallery.candidates(quantize(randomUnitFeature()), 10);
    expect(found).to.have.length(3);
    expect(found[0]!.approxCosine).to.be.at.least(found[1]!.approxCosine);
    expect(found[1]!.approxCosine).to.be.at.least(found[2]!.approxCosine);
  });

  it('removes by moving the last row, keeping every other face findable', function () {
    const gallery = new ExactGallery(512);
    const features = Array.from({ length: 100 }, () => randomUnitFeature());
    features.forEach((f, i) => gallery.upsert(token(i), quantize(f), { userId: `u${i % 10}` }));
    for (let i = 0; i < 100; i += 3) expect(gallery.remove(token(i))).to.equal(true);
    expect(gallery.remove(token(0))).to.equal(false);
    expect(gallery.size).to.equal(66);
    features.forEach((f, i) => {
      const [best] = gallery.candidates(quantize(f), 1);
      if (i % 3 === 0) expect(best!.faceToken).to.not.equal(token(i));
      else {
        expect(best!.faceToken).to.equal(token(i));
        expect(gallery.userOf(token(i))).to.deep.equal({ userId: `u${i % 10}` });
      }
    });
    expect(gallery.tokensOfUser('u3').sort()).to.deep.equal([13, 23, 43, 53, 73, 83].map(token));
  });

  it('replaces a face bound again, with its new user', function () {
    const gallery = new ExactGallery(512);
    const a = randomUnitFeature();
    gallery.upsert(token(1), quantize(randomUnitFeature()), { userId: 'old' });
    gallery.upsert(token(1), quantize(a), { userId: 'new', userInfo: 'x' });
    expect(gallery.size).to.equal(1);
    expect(gallery.tokensOfUser('old')).to.deep.equal([]);
    expect(gallery.userOf(token(1))).to.deep.equal({ userId: 'new', userInfo: 'x' });
    expect(gallery.candidates(quantize(a), 1)[0]!.approxCosine).to.be.closeTo(1, 0.01);
    expect(() => gallery.upsert(token(2), new Int8Array(3))).to.throw(RangeError);
  });
});
