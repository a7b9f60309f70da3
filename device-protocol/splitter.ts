// Splits a byte stream into frame bodies, whatever the chunk boundaries
// (including inside a length prefix), and keeps the running CRC-32 of the
// complete frames seen so far.
//
// The length limit is enforced while the prefix is still being read: as soon
// as the value can only end up above the limit the stream is rejected, before
// any of the frame's body is buffered. A body that arrives in pieces is copied
// once into a buffer of its final size (no repeated concatenation); a body
// that lies wholly inside one chunk is not copied at all.
import { updateCrc32 } from './crc.js';
import { MAX_FRAME_BYTES } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { MAX_VARINT32_BYTES } from './varint.js';

export interface RawFrame {
  /** The frame's protobuf bytes; may share memory with an input chunk. */
  body: Uint8Array;
  /** CRC-32 of all stream bytes before this frame's length prefix. */
  crcBefore: number;
}

export class FrameSplitter {
  readonly #maxFrameBytes: number;
  readonly #prefix = new Uint8Array(MAX_VARINT32_BYTES);
  #prefixLength = 0;
  #length = 0;
  /** The body being filled, once its prefix is complete and it spans chunks. */
  #body: Uint8Array | null = null;
  #filled = 0;
  #crc = 0;
  #bytesReceived = 0;

  constructor(maxFrameBytes: number = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes pushed so far: the offset at which a resumed download continues. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** True when the bytes so far end inside a frame. */
  get midFrame(): boolean {
    return this.#prefixLength > 0 || this.#body !== null;
  }

  push(chunk: Uint8Array): RawFrame[] {
    const frames: RawFrame[] = [];
    this.#bytesReceived += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.#body !== null) {
        const n = Math.min(this.#length - this.#filled, chunk.length - i);
        this.#body.set(chunk.subarray(i, i + n), this.#filled);
        this.#filled += n;
        i += n;
        if (this.#filled === this.#length) {
          frames.push(this.#complete(this.#body));
          this.#body = null;
        }
        continue;
      }
      const byte = chunk[i++]!;
      this.#prefix[this.#prefixLength] = byte;
      this.#length += (byte & 0x7f) * 2 ** (7 * this.#prefixLength);
      this.#prefixLength++;
      if (this.#length > this.#maxFrameBytes) {
        throw syncError(SyncErrorCode.FrameTooLarge, `frame length exceeds ${this.#maxFrameBytes} bytes`, {
          limit: this.#maxFrameBytes,
        });
      }
      if (byte & 0x80) {
        if (this.#prefixLength === MAX_VARINT32_BYTES) {
          throw syncError(SyncErrorCode.BadVarint, `length prefix longer than ${MAX_VARINT32_BYTES} bytes`);
        }
        continue;
      }
      if (this.#prefixLength > 1 && byte === 0) throw syncError(SyncErrorCode.BadVarint, 'length prefix is not canonical');
      const length = this.#length;
      if (chunk.length - i >= length) {
        frames.push(this.#complete(chunk.subarray(i, i + length)));
        i += length;
      } else {
        this.#body = new Uint8Array(this.#length);
        this.#filled = 0;
      }
    }
    return frames;
  }

  #complete(body: Uint8Array): RawFrame {
    const crcBefore = this.#crc;
    this.#crc = updateCrc32(body, updateCrc32(this.#prefix.subarray(0, this.#prefixLength), crcBefore));
    this.#prefixLength = 0;
    this.#length = 0;
    return { body, crcBefore };
  }
}
