// Feature vector codec: the byte layouts of FaceRecord.feature.
//
//   float32: dim x binary32, little-endian. Bit-exact.
//   float16: dim x binary16, little-endian, round to nearest, ties to even.
//   int8:    4-byte binary32 scale, little-endian, then dim x int8 q[i];
//            x[i] = q[i] * scale. The encoder picks scale = max|x| / 127
//            (rounded to binary32) and q[i] = round-half-away-from-zero(
//            x[i] / scale) clamped to [-127, 127], so -128 never appears
//            (decoders accept it) and |x[i] - decoded| <= scale / 2.
//
// Features travel as bytes, not `repeated float`, so a record costs exactly
// its payload plus a few bytes of tag and length, and a terminal can copy it
// straight into its own buffer.
import type { FeatureEncoding } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { HALF_TO_FLOAT, halfFromFloatBits } from './float16.js';

const INT8_SCALE_BYTES = 4;
const INT8_MAX = 127;
/** Checked once: on a little-endian host float32 bytes can be copied as they are. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Bytes of one encoded feature with `dim` components. */
export function encodedFeatureLength(dim: number, encoding: FeatureEncoding): number {
  switch (encoding) {
    case 'float32':
      return dim * 4;
    case 'float16':
      return dim * 2;
    case 'int8':
      return INT8_SCALE_BYTES + dim;
  }
}

function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw syncError(SyncErrorCode.BadFeature, `${what}: component ${i} is not finite`, { index: i });
    }
  }
}

export function encodeFeature(feature: Float32Array, encoding: FeatureEncoding): Uint8Array {
  // A NaN or infinity would silently poison every similarity a terminal
  // computes with this face; refuse it where it enters the wire.
  assertFinite(feature, 'feature');
  const dim = feature.length;
  const out = new Uint8Array(encodedFeatureLength(dim, encoding));
  const view = new DataView(out.buffer);
  switch (encoding) {
    case 'float32':
      if (HOST_IS_LITTLE_ENDIAN) out.set(new Uint8Array(feature.buffer, feature.byteOffset, dim * 4));
      else for (let i = 0; i < dim; i++) view.setFloat32(i * 4, feature[i]!, true);
      break;
    case 'float16': {
      // The float32 bit patterns, read in place (a Float32Array is always 4-byte aligned).
      const bits = new Uint32Array(feature.buffer, feature.byteOffset, dim);
      for (let i = 0; i < dim; i++) view.setUint16(i * 2, halfFromFloatBits(bits[i]!), true);
      break;
    }
    case 'int8': {
      let maxAbs = 0;
      for (let i = 0; i < dim; i++) maxAbs = Math.max(maxAbs, Math.abs(feature[i]!));
      const scale = Math.fround(maxAbs / INT8_MAX);
      view.setFloat32(0, scale, true);
      if (scale === 0) break; // all components zero (or too small to matter): q stays 0
      for (let i = 0; i < dim; i++) {
        const v = feature[i]! / scale;
        const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
        view.setInt8(INT8_SCALE_BYTES + i, Math.max(-INT8_MAX, Math.min(INT8_MAX, q)));
      }
      break;
    }
  }
  return out;
}

/** Decodes one feature of `dim` components. The result never shares memory with `bytes`. */
export function decodeFeature(bytes: Uint8Array, encoding: FeatureEncoding, dim: number): Float32Array {
  const expected = encodedFeatureLength(dim, encoding);
  if (bytes.length !== expected) {
    throw syncError(
      SyncErrorCode.BadFeature,
      `${encoding} feature of dimension ${dim} must be ${expected} bytes, got ${bytes.length}`,
      { expected, actual: bytes.length },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out: Float32Array;
  switch (encoding) {
    case 'float32':
      if (HOST_IS_LITTLE_ENDIAN) {
        // Copy into a fresh, exactly sized (so 4-byte-aligned) buffer. Not
        // bytes.slice(): on a Node Buffer that is a view of the shared pool.
        out = new Float32Array(new Uint8Array(bytes).buffer);
      } else {
        out = new Float32Array(dim);
        for (let i = 0; i < dim; i++) out[i] = view.getFloat32(i * 4, true);
      }
      break;
    case 'float16':
      out = new Float32Array(dim);
      for (let i = 0; i < dim; i++) out[i] = HALF_TO_FLOAT[view.getUint16(i * 2, true)]!;
      break;
    case 'int8': {
      const scale = view.getFloat32(0, true);
      if (!(scale >= 0) || !Number.isFinite(scale)) {
        throw syncError(SyncErrorCode.BadFeature, `int8 feature scale must be finite and >= 0, got ${scale}`);
      }
      out = new Float32Array(dim);
      for (let i = 0; i < dim; i++) out[i] = view.getInt8(INT8_SCALE_BYTES + i) * scale;
      break;
    }
  }
  // Bytes from the wire are untrusted: reject NaN/infinity here, too.
  assertFinite(out, 'decoded feature');
  return out;
}
