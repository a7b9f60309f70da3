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
import { crc32 } from 'node:zlib';
import {
  FrameType,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION_MAX,
  TARGET_FRAME_BYTES,
  type FeatureEncoding,
} from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { encodedFeatureLength, encodeFeature } from './features.js';
import { encodeFrame, type FaceRecord, type GroupResult, type StreamHeader, type WireFrame } from './frames.js';
import { FrameOrder, type StreamCounts } from './order.js';
import { varintLength } from './varint.js';

export interface WriterOptions {
  /** Hard limit per frame (default MAX_FRAME_BYTES, 1 MiB); a record that cannot fit throws. */
  maxFrameBytes?: number;
  /** Batches are cut before they exceed this (default TARGET_FRAME_BYTES, 256 KiB). */
  targetFrameBytes?: number;
}

/** header() input: the protocol version defaults to the highest this implementation speaks. */
export type HeaderInput = Omit<StreamHeader, 'protocolVersion'> & { protocolVersion?: number };

const EMPTY = new Uint8Array(0);

/** Bytes of a length-delimited field (tag < 16) holding `length` bytes. */
const fieldSize = (length: number): number => 1 + varintLength(length) + length;
const stringFieldSize = (value: string): number => fieldSize(Buffer.byteLength(value, 'utf8'));

export class SyncStreamWriter {
  readonly #order = new FrameOrder();
  readonly #maxFrameBytes: number;
  readonly #targetFrameBytes: number;
  #encoding: FeatureEncoding = 'float32';
  #featureDim = 0;
  #crc = 0;
  #bytesWritten = 0;

  constructor(options: WriterOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#targetFrameBytes = Math.min(options.targetFrameBytes ?? TARGET_FRAME_BYTES, this.#maxFrameBytes);
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
    this.#encoding = header.featureEncoding;
    this.#featureDim = header.featureDim;
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
    this.#order.check({ type: FrameType.Faces, faces: [] });
    if (this.#featureDim === 0) throw syncError(SyncErrorCode.BadFeature, 'faces need a header with featureDim > 0');
    // Encode and check every record before emitting any frame, so a bad
    // record leaves the stream exactly as it was.
    const featureField = fieldSize(encodedFeatureLength(this.#featureDim, this.#encoding));
    const entries = batch.map((face) => {
      if (face.feature.length !== this.#featureDim) {
        throw syncError(
          SyncErrorCode.BadFeature,
          `feature of ${face.faceToken} has ${face.feature.length} components, the header says ${this.#featureDim}`,
        );
      }
      const record: FaceRecord<Uint8Array> = {
        faceToken: face.faceToken,
        ...(face.userId !== undefined ? { userId: face.userId } : {}),
        ...(face.userInfo !== undefined ? { userInfo: face.userInfo } : {}),
        feature: encodeFeature(face.feature, this.#encoding),
      };
      const recordBytes =
        stringFieldSize(record.faceToken) +
        (record.userId !== undefined ? stringFieldSize(record.userId) : 0) +
        (record.userInfo !== undefined ? stringFieldSize(record.userInfo) : 0) +
        featureField;
      return { item: record, bytes: fieldSize(recordBytes) };
    });
    return concat(this.#batches(entries, (faces) => ({ type: FrameType.Faces, faces })));
  }

  /** Face tokens removed from the current group (DELTA only), cut into frames like faces(). */
  removed(faceTokens: readonly string[]): Uint8Array {
    const entries = faceTokens.map((token) => ({ item: token, bytes: stringFieldSize(token) }));
    return concat(this.#batches(entries, (tokens) => ({ type: FrameType.Removed, faceTokens: tokens })));
  }

  /** Cuts entries (each with its encoded size inside the batch message) into frames of at most targetFrameBytes. */
  #batches<T>(entries: { item: T; bytes: number }[], frame: (items: T[]) => WireFrame): Uint8Array[] {
    // A single entry too large for any frame: refuse before emitting anything.
    const largest = entries.reduce((max, e) => Math.max(max, e.bytes), 0);
    if (fieldSize(largest) > this.#maxFrameBytes) {
      throw syncError(SyncErrorCode.FrameTooLarge, `a record of ${largest} bytes cannot fit a frame of ${this.#maxFrameBytes}`, {
        length: largest,
        limit: this.#maxFrameBytes,
      });
    }
    const parts: Uint8Array[] = [];
    let items: T[] = [];
    let batchBytes = 0;
    for (const { item, bytes } of entries) {
      // fieldSize(): the batch message nested in its Frame field.
      if (items.length > 0 && fieldSize(batchBytes + bytes) > this.#targetFrameBytes) {
        parts.push(this.#emit(frame(items)));
        items = [];
        batchBytes = 0;
      }
      items.push(item);
      batchBytes += bytes;
    }
    if (items.length > 0) parts.push(this.#emit(frame(items)));
    return parts;
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
    const bytes = encodeFrame(frame, this.#maxFrameBytes);
    this.#order.accept(frame);
    this.#crc = crc32(bytes, this.#crc);
    this.#bytesWritten += bytes.length;
    return bytes;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
}
