// IEEE 754 binary16 conversion, exact and fast. @petamoriken/float16's
// getFloat16/setFloat16 are correct but cost about 1 µs per value, which
// made a 10 000-face float16 group take seconds; these take nanoseconds and
// are checked against that library over every half value and random floats
// (test/device-protocol/float16.test.ts).

/** binary32 bits -> binary16 bits, rounded to nearest, ties to even. */
export function halfFromFloatBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // infinity, NaN
  const e = exponent - 127 + 15; // rebiased exponent
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero): count units of 2^-24.
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** binary16 bits -> the exact value. */
export function floatFromHalf(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * Every binary16 value as a float32, indexed by its bits: decoding a feature
 * is then one table read per component, about 4x faster than computing
 * floatFromHalf (a 100 000-face float16 copy decoded in 4.6 s, bench:sync).
 * 256 KiB, built once when the module loads and never written afterwards.
 */
export const HALF_TO_FLOAT: Readonly<Float32Array> = (() => {
  const table = new Float32Array(0x10000);
  for (let half = 0; half < 0x10000; half++) table[half] = floatFromHalf(half);
  return table;
})();
