import { expect } from 'chai';
import { decodeFeature, encodedFeatureLength, encodeFeature, SyncErrorCode } from '../../device-protocol/index.js';
import { featureFor, hex } from './helpers.js';

const sample = new Float32Array([0.5, -0.25, 0.1, -1]);

describe('feature codec', () => {
  it('pins the float32 layout: little-endian binary32', () => {
    expect(hex(encodeFeature(sample, 'float32'))).to.equal('0000003f000080becdcccc3d000080bf');
  });

  it('pins the float16 layout: little-endian binary16', () => {
    expect(hex(encodeFeature(sample, 'float16'))).to.equal('003800b4662e00bc');
  });

  it('pins the int8 layout: float32 scale, then q = round(x / scale)', () => {
    // scale = 1/127 = 0x3c010204; 63.5 -> 64 (half away from zero), -31.75 -> -32, 12.7 -> 13, -127
    expect(hex(encodeFeature(sample, 'int8'))).to.equal('0402013c40e00d81');
  });

  it('round-trips float32 bit-exactly', () => {
    const f = featureFor('exact', 512);
    const back = decodeFeature(encodeFeature(f, 'float32'), 'float32', 512);
    expect(Buffer.from(back.buffer).equals(Buffer.from(f.buffer))).to.equal(true);
  });

  it('keeps float16 within half a unit in the last place', () => {
    for (const token of ['a', 'b', 'c', 'd']) {
      const f = featureFor(token, 512);
      const back = decodeFeature(encodeFeature(f, 'float16'), 'float16', 512);
      f.forEach((x, i) => expect(Math.abs(back[i]! - x)).to.be.at.most(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25)));
    }
  });

  it('rounds float16 ties to even', () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: the even one is 1.
    const back = decodeFeature(encodeFeature(new Float32Array([1 + 2 ** -11]), 'float16'), 'float16', 1);
    expect(back[0]).to.equal(1);
  });

  it('keeps int8 within half a quantisation step (scale / 2)', () => {
    for (const token of ['a', 'b', 'c', 'd']) {
      const f = featureFor(token, 512);
      const bytes = encodeFeature(f, 'int8');
      const scale = new DataView(bytes.buffer).getFloat32(0, true);
      const back = decodeFeature(bytes, 'int8', 512);
      f.forEach((x, i) => expect(Math.abs(back[i]! - x)).to.be.at.most(scale / 2 + 1e-7));
      // cosine similarity with the original stays near 1
      let dot = 0;
      f.forEach((x, i) => (dot += x * back[i]!));
      expect(dot / Math.hypot(...back)).to.be.greaterThan(0.999);
    }
  });

  it('encodes an all-zero vector as scale 0', () => {
    expect(hex(encodeFeature(new Float32Array(3), 'int8'))).to.equal('00000000000000');
  });

  it('states the encoded length of each encoding', () => {
    expect(encodedFeatureLength(512, 'float32')).to.equal(2048);
    expect(encodedFeatureLength(512, 'float16')).to.equal(1024);
    expect(encodedFeatureLength(512, 'int8')).to.equal(516);
  });

  it('rejects a feature of the wrong length', () => {
    expect(() => decodeFeature(new Uint8Array(15), 'float32', 4))
      .to.throw().with.property('code', SyncErrorCode.BadFeature);
  });

  it('rejects non-finite values on both sides', () => {
    expect(() => encodeFeature(new Float32Array([NaN]), 'float32')).to.throw().with.property('code', SyncErrorCode.BadFeature);
    expect(() => decodeFeature(new Uint8Array([0, 0, 0xc0, 0x7f]), 'float32', 1))
      .to.throw().with.property('code', SyncErrorCode.BadFeature);
    expect(() => decodeFeature(new Uint8Array([0, 0, 0x80, 0xbf, 1]), 'int8', 1))
      .to.throw().with.property('code', SyncErrorCode.BadFeature); // negative scale
  });

  it('decodes from a Node Buffer that is a view into a larger pool', () => {
    for (const encoding of ['float32', 'float16', 'int8'] as const) {
      const encoded = encodeFeature(sample, encoding);
      const pooled = Buffer.from(Buffer.concat([Buffer.from([1, 2, 3]), encoded]).subarray(3));
      const view = Buffer.concat([Buffer.alloc(3), encoded]).subarray(3); // byteOffset 3: unaligned
      for (const bytes of [pooled, view]) {
        const back = decodeFeature(bytes, encoding, 4);
        expect(back.length).to.equal(4);
        [0.5, -0.25, 0.1, -1].forEach((x, i) => expect(back[i]).to.be.closeTo(x, 0.005));
      }
    }
  });

  it('never shares memory with the input bytes', () => {
    const bytes = encodeFeature(sample, 'float32');
    const back = decodeFeature(bytes, 'float32', 4);
    bytes.fill(0);
    expect(back[0]).to.equal(0.5);
  });
});
