// int8 codes of L2-normalised features for the vectorised candidate search.
//
// One fixed scale for every vector (not one per vector), so the integer dot
// product of two codes is the cosine times SCALE² for every pair and the
// ranking it gives is the cosine's, up to rounding. 127/SCALE = 0.25 bounds
// the components kept exactly: the largest component of the test photos'
// 512-d features is 0.17 (a unit vector's components average 0.044), and a
// rare larger one is clipped. The rounding moves a cosine by about 1e-3,
// which the float32 re-rank of the top candidates removes again.
export const SCALE = 508;

/** Writes the code of `feature` into `out` (same length). */
export function quantizeInto(feature: Float32Array, out: Int8Array): Int8Array {
  for (let i = 0; i < feature.length; i++) {
    const v = Math.round(feature[i]! * SCALE);
    out[i] = v > 127 ? 127 : v < -127 ? -127 : v;
  }
  return out;
}

export function quantize(feature: Float32Array): Int8Array {
  return quantizeInto(feature, new Int8Array(feature.length));
}

/** The approximate cosine of an integer dot product of two codes. */
export const cosineOfCodeDot = (dot: number) => dot / (SCALE * SCALE);
