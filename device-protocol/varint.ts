// Unsigned LEB128 varints as protobuf writes them, limited to 32 bits: frame
// length prefixes and the first tag of a frame body. Readers require the
// canonical (shortest) form, so a length has exactly one byte form and a
// padded prefix cannot be used to smuggle in extra bytes.
import { syncError, SyncErrorCode } from './errors.js';

/** A 32-bit value never needs more than 5 varint bytes. */
export const MAX_VARINT32_BYTES = 5;

export function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/**
 * Reads a varint32 from `bytes` at `offset`. Returns the value and the offset
 * after it, or null when `bytes` ends inside the varint.
 */
export function readVarint32(bytes: Uint8Array, offset: number): { value: number; next: number } | null {
  let value = 0;
  for (let i = 0; i < MAX_VARINT32_BYTES; i++) {
    if (offset + i >= bytes.length) return null;
    const byte = bytes[offset + i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (i > 0 && byte === 0) throw syncError(SyncErrorCode.BadVarint, 'varint is not canonical');
      if (value > 0xffffffff) throw syncError(SyncErrorCode.BadVarint, 'varint exceeds 32 bits');
      return { value, next: offset + i + 1 };
    }
  }
  throw syncError(SyncErrorCode.BadVarint, `varint longer than ${MAX_VARINT32_BYTES} bytes`);
}
