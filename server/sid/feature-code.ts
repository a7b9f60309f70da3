// The `feature` string of /staticdb/search/feature, accepted back as
// featureA / featureB by /staticdb/search/compare. The spec only says it is
// base64; this is our documented layout (README "SID dialect"), all
// little-endian, then standard base64 (with padding):
//
//   offset  size  field
//   0       4     magic "SIDF"
//   4       1     layout version, 1
//   5       1     n = byte length of the model version
//   6       n     model version, ASCII (the engine's searchModel, as in sync)
//   6+n     2     d = feature length (uint16)
//   8+n     4*d   the L2-normalised feature, float32
//
// The model version travels with the feature so that a feature made by
// another model is refused instead of compared (its cosine would mean
// nothing).
import { ErrorCode, FaceError } from '../core/errors.js';

const MAGIC = 'SIDF';
const LAYOUT_VERSION = 1;
/** Largest feature accepted when decoding (the engine's is 512). */
const MAX_DIMENSIONS = 4096;

export function encodeFeature(modelVersion: string, feature: Float32Array): string {
  const model = Buffer.from(modelVersion, 'ascii');
  if (model.length > 255) throw new RangeError('model version longer than 255 bytes');
  const out = Buffer.alloc(8 + model.length + 4 * feature.length);
  out.write(MAGIC, 0, 'ascii');
  out.writeUInt8(LAYOUT_VERSION, 4);
  out.writeUInt8(model.length, 5);
  model.copy(out, 6);
  out.writeUInt16LE(feature.length, 6 + model.length);
  const base = 8 + model.length;
  for (let i = 0; i < feature.length; i++) out.writeFloatLE(feature[i]!, base + 4 * i);
  return out.toString('base64');
}

const malformed = (name: string, why: string) =>
  new FaceError(ErrorCode.IllegalArgument, `${name} is not a feature of this server: ${why}`, { args: [name], why, reason: 'feature' });

/**
 * The feature in `text` (argument `name`), checked to come from `modelVersion`
 * with `dimensions` values. ILLEGAL_ARGUMENT (details.reason 'feature', or
 * 'model' for a feature of another model) otherwise.
 */
export function decodeFeature(name: string, text: string, modelVersion: string, dimensions: number): Float32Array {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) throw malformed(name, 'not base64');
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.length < 8 || bytes.toString('ascii', 0, 4) !== MAGIC) throw malformed(name, 'no SIDF header');
  if (bytes.readUInt8(4) !== LAYOUT_VERSION) throw malformed(name, `layout version ${bytes.readUInt8(4)}`);
  const modelLength = bytes.readUInt8(5);
  if (bytes.length < 8 + modelLength) throw malformed(name, 'truncated');
  const model = bytes.toString('ascii', 6, 6 + modelLength);
  if (model !== modelVersion) {
    throw new FaceError(ErrorCode.IllegalArgument, `${name} was made by model ${model}, this server uses ${modelVersion}`, {
      args: [name],
      reason: 'model',
    });
  }
  const length = bytes.readUInt16LE(6 + modelLength);
  if (length !== dimensions || length > MAX_DIMENSIONS) throw malformed(name, `${length} values, expected ${dimensions}`);
  const base = 8 + modelLength;
  if (bytes.length !== base + 4 * length) throw malformed(name, 'wrong length');
  const feature = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const value = bytes.readFloatLE(base + 4 * i);
    if (!Number.isFinite(value)) throw malformed(name, 'not finite');
    feature[i] = value;
  }
  return feature;
}
