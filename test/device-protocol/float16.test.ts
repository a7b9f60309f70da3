import { expect } from 'chai';
import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { floatFromHalf, HALF_TO_FLOAT, halfFromFloatBits } from '../../device-protocol/float16.js';

/** The library's answer, as the reference. */
function referenceHalf(x: number): number {
  const view = new DataView(new ArrayBuffer(2));
  setFloat16(view, 0, x);
  return view.getUint16(0);
}

const bitsOf = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const floatOf = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

describe('float16', () => {
  it('decodes every half value exactly as @petamoriken/float16 does', () => {
    const view = new DataView(new ArrayBuffer(2));
    for (let h = 0; h < 0x10000; h++) {
      view.setUint16(0, h);
      const expected = getFloat16(view, 0);
      const got = floatFromHalf(h);
      if (Number.isNaN(expected)) expect(got, h.toString(16)).to.be.NaN;
      else expect(Object.is(got, expected), `0x${h.toString(16)}: ${got} vs ${expected}`).to.equal(true);
      // The decoding table holds the same values (every half is exact in float32).
      if (Number.isNaN(expected)) expect(HALF_TO_FLOAT[h], h.toString(16)).to.be.NaN;
      else expect(Object.is(HALF_TO_FLOAT[h], expected), `table 0x${h.toString(16)}`).to.equal(true);
    }
  });

  it('encodes like @petamoriken/float16: ties to even, subnormals, overflow, signed zero', () => {
    const edge = [0, -0, 1, -1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, 65520, 1e6, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -26, 5.96e-8, 6.1e-5];
    for (const x of edge) {
      const f = Math.fround(x);
      expect(halfFromFloatBits(bitsOf(f)), String(x)).to.equal(referenceHalf(f));
      expect(halfFromFloatBits(bitsOf(-f)), String(-x)).to.equal(referenceHalf(-f));
    }
  });

  it('encodes like @petamoriken/float16 over 50 000 random float32 bit patterns', () => {
    let seed = 12345;
    for (let i = 0; i < 50_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // Spread over the exponents that matter (around the half range) and beyond.
      const bits = (seed & 0x807fffff) | ((((seed >>> 23) % 60) + 92) << 23);
      const x = floatOf(bits >>> 0);
      expect(halfFromFloatBits(bits >>> 0), `${x}`).to.equal(referenceHalf(x));
    }
  });
});
