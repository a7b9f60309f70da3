// The running CRC-32 of a stream (PROTOCOL.md §9), updated chunk by chunk.
//
// Not zlib.crc32 directly: zlib's crc32(crc, buf, len) returns 0 (its
// "initial value") when buf is NULL, and Node passes NULL for an empty view
// of an ArrayBuffer without a backing store (new ArrayBuffer(0)). An empty
// chunk, say an empty cached group body, would then silently reset the
// running CRC and every trailer after it would be wrong.
import { crc32 } from 'node:zlib';

export function updateCrc32(bytes: Uint8Array, crc: number): number {
  return bytes.length === 0 ? crc : crc32(bytes, crc);
}
