// Server side: produces a sync stream (or a snapshot) incrementally. Each
// method returns the bytes of the frames it made, ready to be written to the
// HTTP response, so the server never holds more than one page of faces:
//
//   const w = new SyncStreamWriter();
//   res.write(w.header({ searchModel, serverTimeMs: Date.now(), featureEncoding, featureDim }));
//   for (const group of groups) {
//     res.write(w.groupResult({ ...decision }));
//     for await (const page of pagesOfFaces) res.write(w.faces(page));   // FULL/RESET/DELTA
//     res.write(w.removed(removedTokens));                                 // DELTA
//   }
//   res.end(w.finish());
//
// On a failure after the first write, send w.abort(code, message) and end the
// response; never finish() a stream that is missing data.
import { updateCrc32 } from './crc.js';
import { FrameType, MAX_FRAME_BYTES, PROTOCOL_VERSION_MAX, TARGET_FRAME_BYTES } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { faceFrames, removedFrames, type BatchLimits, type FeatureLayout } from './batches.js';
import { encodeFrame, type FaceRecord, type GroupResult, type StreamHeader, type WireFrame } from './frames.js';
import { bodyFrameRuns, type EncodedGroupBody } from './group-body.js';
import { FrameOrder, type StreamCounts } from './order.js';

export interface WriterOptions {
  /** Hard limit per frame (default MAX_FRAME_BYTES, 1 MiB); a record that cannot fit throws. */
  maxFrameBytes?: number;
  /** Batches are cut before they exceed this (default TARGET_FRAME_BYTES, 256 KiB). */
  targetFrameBytes?: number;
}

/** header() input: the protocol version defaults to the highest this implementation speaks. */
export type HeaderInput = Omit<StreamHeader, 'protocolVersion'> & { protocolVersion?: number };

const EMPTY = new Uint8Array(0);

export class SyncStreamWriter {
  readonly #order = new FrameOrder();
  readonly #limits: BatchLimits;
  #layout: FeatureLayout = { featureEncoding: 'float32', featureDim: 0 };
  #crc = 0;
  #bytesWritten = 0;

  constructor(options: WriterOptions = {}) {
    const maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#limits = { maxFrameBytes, targetFrameBytes: Math.min(options.targetFrameBytes ?? TARGET_FRAME_BYTES, maxFrameBytes) };
  }

  /** Bytes returned so far. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  get counts(): Readonly<StreamCounts> {
    return this.#order.counts;
  }

  header(input: HeaderInput): Uint8Array {
    const header: StreamHeader = { ...input, protocolVersion: input.protocolVersion ?? PROTOCOL_VERSION_MAX };
    if (!Number.isInteger(header.featureDim) || header.featureDim < 0) {
      throw new RangeError(`featureDim must be a non-negative integer, got ${header.featureDim}`);
    }
    const bytes = this.#emit({ type: FrameType.Header, header });
    this.#layout = { featureEncoding: header.featureEncoding, featureDim: header.featureDim };
    return bytes;
  }

  groupResult(group: GroupResult): Uint8Array {
    return this.#emit({ type: FrameType.Group, group });
  }

  /**
   * Face records of the current group (DELTA upserts, or FULL/RESET contents),
   * encoded with the header's feature encoding and cut into frames of at most
   * targetFrameBytes. Call it with pages of any size, as they are read.
   */
  faces(batch: readonly FaceRecord[]): Uint8Array {
    if (batch.length === 0) return EMPTY;
    this.#order.checkRun(FrameType.Faces);
    // faceFrames() checks every record before returning any frame, so a bad
    // record leaves the stream exactly as it was.
    return concat(faceFrames(batch, this.#layout, this.#limits).map((frame) => this.#emit(frame)));
  }

  /** Face tokens removed from the current group (DELTA only), cut into frames like faces(). */
  removed(faceTokens: readonly string[]): Uint8Array {
    return concat(removedFrames(faceTokens, this.#limits).map((frame) => this.#emit(frame)));
  }

  /**
   * A group body encoded earlier by a GroupBodyEncoder (for example, cached),
   * in place of faces() and removed() calls. Its encoding and dimension must
   * be this stream's; the order, counts and CRC are kept as if its frames
   * had been written one by one.
   */
  body(body: EncodedGroupBody): Uint8Array {
    if (body.faceCount > 0 && (body.featureEncoding !== this.#layout.featureEncoding || body.featureDim !== this.#layout.featureDim)) {
      throw syncError(
        SyncErrorCode.BadFeature,
        `group body is ${body.featureEncoding}/${body.featureDim}, the stream is ${this.#layout.featureEncoding}/${this.#layout.featureDim}`,
      );
    }
    const runs = bodyFrameRuns(body);
    // Check the whole run before recording any of it.
    for (const run of runs) this.#order.checkRun(run.type);
    for (const run of runs) this.#order.acceptRun(run.type, run.items);
    this.#crc = updateCrc32(body.bytes, this.#crc);
    this.#bytesWritten += body.bytes.length;
    return body.bytes;
  }

  /** The trailer: counts and the CRC-32 of everything written before it. Nothing may follow. */
  finish(): Uint8Array {
    const counts = this.#order.counts;
    return this.#emit({ type: FrameType.Trailer, trailer: { ...counts, crc32: this.#crc } });
  }

  /** Ends the stream with an error frame instead of a trailer (the terminal discards it all). */
  abort(code: string, message: string): Uint8Array {
    return this.#emit({ type: FrameType.Error, error: { code, message } });
  }

  #emit(frame: WireFrame): Uint8Array {
    // Encode before accepting, so a frame that is too large leaves the
    // writer's state (order, counts, CRC) as it was.
    const bytes = encodeFrame(frame, this.#limits.maxFrameBytes);
    this.#order.accept(frame);
    this.#crc = updateCrc32(bytes, this.#crc);
    this.#bytesWritten += bytes.length;
    return bytes;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
}
