import { expect } from 'chai';
import { cosineOfScore, scoreOfCosine, SCORE_KNOTS } from '../../../../server/core/search/score.js';

describe('scoreOfCosine', function () {
  it('maps [-1, 1] onto [0, 100], strictly increasing', function () {
    expect(scoreOfCosine(-1)).to.equal(0);
    expect(scoreOfCosine(1)).to.equal(100);
    let previous = -Infinity;
    for (let c = -1; c <= 1; c += 0.001) {
      const s = scoreOfCosine(c);
      expect(s).to.be.greaterThan(previous);
      previous = s;
    }
  });

  it('clamps outside [-1, 1] and treats NaN as the lowest score', function () {
    expect(scoreOfCosine(1.5)).to.equal(100);
    expect(scoreOfCosine(-3)).to.equal(0);
    expect(scoreOfCosine(Number.NaN)).to.equal(0);
  });

  it('passes through its knots, 70 and 78 (the spec defaults) among them', function () {
    for (const [cosine, score] of SCORE_KNOTS) expect(scoreOfCosine(cosine)).to.be.closeTo(score, 1e-9);
    expect(SCORE_KNOTS.map(([, s]) => s)).to.include.members([70, 78]);
  });

  it('has cosineOfScore as its inverse', function () {
    for (let c = -1; c <= 1; c += 0.01) expect(cosineOfScore(scoreOfCosine(c))).to.be.closeTo(c, 1e-9);
    expect(cosineOfScore(0)).to.equal(-1);
    expect(cosineOfScore(100)).to.equal(1);
  });
});
