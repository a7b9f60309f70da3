import { expect } from 'chai';
import type { FaceQuality, Point } from '../../../models/engine.js';
import { ageBand, mouthClosed, overallQuality, qualityScores } from '../../../server/sid/quality-scores.js';

const quality: FaceQuality = { yaw: 0, pitch: 0, roll: 5, blur: 0.1, brightness: 128, brightnessStd: 40, size: 120, completeness: 1 };

/** 68 points with the mouth corners 40 px apart and the inner lips `gap` px apart. */
function mouth(gap: number): Point[] {
  const points: Point[] = Array.from({ length: 68 }, () => [0, 0] as Point);
  points[48] = [80, 150];
  points[54] = [120, 150];
  for (const [top, bottom, x] of [[61, 67, 95], [62, 66, 100], [63, 65, 105]] as const) {
    points[top] = [x, 150 - gap / 2];
    points[bottom] = [x, 150 + gap / 2];
  }
  return points;
}

describe('SID qualityScores', function () {
  it('writes 31 positions, 4 decimals, empty where nothing is computed', function () {
    const text = qualityScores({ box: { left: 10.4, top: 20.6, width: 100, height: 110 }, quality });
    const positions = text.split(',');
    expect(positions).to.have.length(31);
    expect(positions.slice(19, 23)).to.deep.equal(['10.0000', '21.0000', '100.0000', '110.0000']);
    expect(positions[18]).to.equal('5.0000');
    // No landmarks, attributes, detector score or liveness: those stay empty too.
    for (const empty of [2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 23, 24, 25, 26, 30]) expect(positions[empty], `[${empty}]`).to.equal('');
  });

  it('fills attributes, liveness, detector score and the mouth when measured', function () {
    const positions = qualityScores({
      box: { left: 0, top: 0, width: 50, height: 50 },
      quality,
      score: 0.98,
      landmarks: mouth(0),
      liveness: 0.75,
      attributes: { age: 64, gender: 'female', genderScore: 0.1, expression: 'neutral', expressionScore: 0.9, eyes: { left: { open: true, score: 0.9 }, right: { open: false, score: 0.2 } } },
    }).split(',');
    expect(positions[6]).to.equal('1.0000');
    expect(positions[7]).to.equal('0.9800');
    expect(positions.slice(10, 14)).to.deep.equal(['64.0000', '2.0000', '', '4.0000']);
    expect(positions[23]).to.equal('0.7500');
    expect(positions.slice(24, 26)).to.deep.equal(['0.9000', '0.2000']);
  });

  it('mouth closed falls from 1 (lips touching) to 0 (gap of 0.3 mouth widths)', function () {
    expect(mouthClosed(mouth(0))).to.equal(1);
    expect(mouthClosed(mouth(6))).to.be.closeTo(0.5, 1e-9);
    expect(mouthClosed(mouth(20))).to.equal(0);
    expect(mouthClosed([])).to.equal(undefined);
  });

  it('overall quality drops with blur, bad light and a turned face', function () {
    const good = overallQuality(quality);
    expect(good).to.be.closeTo(0.9, 1e-9);
    expect(overallQuality({ ...quality, blur: 0.6 })).to.be.lessThan(good);
    expect(overallQuality({ ...quality, brightness: 20 })).to.be.lessThan(good);
    expect(overallQuality({ ...quality, yaw: 45 })).to.be.closeTo(0.45, 1e-9);
  });

  it('age bands: 1 child, 2 middle-aged, 4 old', function () {
    expect([ageBand(8), ageBand(18), ageBand(59), ageBand(60)]).to.deep.equal([1, 2, 2, 4]);
  });
});
