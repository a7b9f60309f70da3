// Incremental sync stream decoder: bytes in any chunking -> validated, typed
// frames with features decoded. It checks everything the stream itself can
// prove (size limits, protobuf validity, order, protocol version, feature
// lengths, trailer CRC and counts); what the frames mean for a gallery is
// apply.ts's business.
//
// Frames are handed out as soon as they are complete, before the trailer has
// been checked: a consumer must stage them and commit nothing until the
// decoder reports `done` (or end() returns without throwing).
import { FrameType, MAX_FRAME_BYTES, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { decodeFeature } from './features.js';
import { decodeFrameBody, type Frame, type StreamHeader, type Trailer } from './frames.js';
import { FrameOrder } from './order.js';
import { FrameSplitter } from './splitter.js';

export interface DecoderOptions {
  /** Reject frames longer than this (default MAX_FRAME_BYTES, 1 MiB). */
  maxFrameBytes?: number;
  /** Protocol versions the reader accepts in the header (default this implementation's range). */
  minProtocolVersion?: number;
  maxProtocolVersion?: number;
}

/** A decoded frame of a sync stream, features as Float32Array. */
export type SyncFrame = Frame<Float32Array>;

export class SyncStreamDecoder {
  readonly #splitter: FrameSplitter;
  readonly #order = new FrameOrder();
  readonly #minVersion: number;
  readonly #maxVersion: number;
  #header: StreamHeader | undefined;

  constructor(options: DecoderOptions = {}) {
    this.#splitter = new FrameSplitter(options.maxFrameBytes ?? MAX_FRAME_BYTES);
    this.#minVersion = options.minProtocolVersion ?? PROTOCOL_VERSION_MIN;
    this.#maxVersion = options.maxProtocolVersion ?? PROTOCOL_VERSION_MAX;
  }

  /** The header, once decoded. */
  get header(): StreamHeader | undefined {
    return this.#header;
  }

  /** True once a valid trailer was decoded (CRC and counts checked). */
  get done(): boolean {
    return this.#order.done;
  }

  /** Bytes pushed so far. */
  get bytesReceived(): number {
    return this.#splitter.bytesReceived;
  }

  /** Feeds the next chunk; returns the frames it completed, in order. Throws SyncError. */
  push(chunk: Uint8Array): SyncFrame[] {
    if (chunk.length === 0) return [];
    if (this.#order.done) throw syncError(SyncErrorCode.TrailingData, 'bytes after the trailer');
    const out: SyncFrame[] = [];
    for (const raw of this.#splitter.push(chunk)) {
      // A trailer may be followed by nothing, not even by the rest of this chunk.
      if (this.#order.done) throw syncError(SyncErrorCode.TrailingData, 'bytes after the trailer');
      const wire = decodeFrameBody(raw.body);
      if (wire === null) continue; // unknown ancillary frame: skipped, but covered by the CRC
      this.#order.accept(wire);
      switch (wire.type) {
        case FrameType.Header: {
          const v = wire.header.protocolVersion;
          if (v < this.#minVersion || v > this.#maxVersion) {
            throw syncError(
              SyncErrorCode.ProtocolVersion,
              `server chose protocol version ${v}; this reader speaks ${this.#minVersion}..${this.#maxVersion}`,
              { version: v },
            );
          }
          this.#header = wire.header;
          out.push(wire);
          break;
        }
        case FrameType.Faces: {
          const { featureEncoding, featureDim } = this.#header!;
          if (featureDim <= 0) throw syncError(SyncErrorCode.BadFrame, 'face records follow but feature_dim is 0');
          out.push({
            type: FrameType.Faces,
            faces: wire.faces.map((f) => ({ ...f, feature: decodeFeature(f.feature, featureEncoding, featureDim) })),
          });
          break;
        }
        case FrameType.Trailer:
          this.#checkTrailer(wire.trailer, raw.crcBefore);
          out.push(wire);
          break;
        case FrameType.Error:
          throw syncError(SyncErrorCode.Server, `server aborted the stream: ${wire.error.code} ${wire.error.message}`, {
            serverCode: wire.error.code,
            serverMessage: wire.error.message,
          });
        default:
          out.push(wire);
      }
    }
    if (this.#order.done && this.#splitter.midFrame) throw syncError(SyncErrorCode.TrailingData, 'bytes after the trailer');
    return out;
  }

  /** Declares the end of input. Throws SYNC_ERR_TRUNCATED unless a trailer ended the stream. */
  end(): void {
    if (!this.#order.done) {
      throw syncError(
        SyncErrorCode.Truncated,
        this.#splitter.midFrame ? 'stream ended inside a frame' : 'stream ended without a trailer',
        { bytes: this.bytesReceived },
      );
    }
  }

  #checkTrailer(trailer: Trailer, crc: number): void {
    if (trailer.crc32 !== crc) {
      throw syncError(SyncErrorCode.CrcMismatch, `trailer CRC ${hex(trailer.crc32)} but received bytes give ${hex(crc)}`, {
        expected: trailer.crc32,
        actual: crc,
      });
    }
    const counts = this.#order.counts;
    for (const key of ['groupCount', 'faceCount', 'removedCount'] as const) {
      if (trailer[key] !== counts[key]) {
        throw syncError(SyncErrorCode.CountMismatch, `trailer ${key} ${trailer[key]} but received ${counts[key]}`, {
          field: key,
          expected: trailer[key],
          actual: counts[key],
        });
      }
    }
  }
}

const hex = (n: number): string => n.toString(16).padStart(8, '0');

/** Decodes a whole stream; throws SyncError (SYNC_ERR_TRUNCATED when it ends early). */
export async function* decodeSyncStream(
  chunks: AsyncIterable<Uint8Array>,
  options?: DecoderOptions,
): AsyncGenerator<SyncFrame, void, undefined> {
  const decoder = new SyncStreamDecoder(options);
  for await (const chunk of chunks) yield* decoder.push(chunk);
  decoder.end();
}
