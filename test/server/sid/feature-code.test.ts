import { expect } from 'chai';
import { isFaceError } from '../../../server/core/errors.js';
import { decodeFeature, encodeFeature } from '../../../server/sid/feature-code.js';

const feature = Float32Array.from({ length: 8 }, (_, i) => (i - 3.5) / 10);

function refusal(fn: () => unknown): { reason?: unknown } {
  try {
    fn();
  } catch (err) {
    expect(isFaceError(err)).to.equal(true);
    return (err as { details: { reason?: unknown } }).details;
  }
  throw new Error('not refused');
}

describe('SID feature code', function () {
  it('round-trips a feature bit for bit, with the documented header', function () {
    const text = encodeFeature('model-v1', feature);
    const bytes = Buffer.from(text, 'base64');
    expect(bytes.toString('ascii', 0, 4)).to.equal('SIDF');
    expect(bytes[4]).to.equal(1);
    expect(bytes[5]).to.equal(8);
    expect(bytes.toString('ascii', 6, 14)).to.equal('model-v1');
    expect(bytes.readUInt16LE(14)).to.equal(8);
    expect(bytes.length).to.equal(16 + 4 * 8);
    expect(bytes.readFloatLE(16)).to.equal(feature[0]);
    expect(decodeFeature('featureA', text, 'model-v1', 8)).to.deep.equal(feature);
  });

  it('refuses a feature of another model (reason model) and malformed ones (reason feature)', function () {
    const text = encodeFeature('model-v1', feature);
    expect(refusal(() => decodeFeature('featureA', text, 'model-v2', 8)).reason).to.equal('model');
    expect(refusal(() => decodeFeature('featureA', text, 'model-v1', 16)).reason).to.equal('feature');
    expect(refusal(() => decodeFeature('featureA', '%%%', 'model-v1', 8)).reason).to.equal('feature');
    expect(refusal(() => decodeFeature('featureA', Buffer.from('XXXX1234').toString('base64'), 'model-v1', 8)).reason).to.equal('feature');
    const truncated = Buffer.from(text, 'base64').subarray(0, 20).toString('base64');
    expect(refusal(() => decodeFeature('featureA', truncated, 'model-v1', 8)).reason).to.equal('feature');
    const nan = encodeFeature('model-v1', Float32Array.from([NaN, 0, 0, 0, 0, 0, 0, 0]));
    expect(refusal(() => decodeFeature('featureA', nan, 'model-v1', 8)).reason).to.equal('feature');
  });
});
