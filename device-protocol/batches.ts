// Cuts face records and removed tokens into FaceBatch / RemovedBatch frames
// of at most a target size, with features encoded. Shared by the stream
// writer and the group-body encoder, so both cut frames identically.
import { syncError, SyncErrorCode } from './errors.js';
import { encodedFeatureLength, encodeFeature } from './features.js';
import { FrameType, type FeatureEncoding } from './constants.js';
import type { FaceRecord, WireFrame } from './frames.js';
import { varintLength } from './varint.js';

export interface BatchLimits {
  /** Hard limit per frame body; a record that cannot fit throws before anything is produced. */
  maxFrameBytes: number;
  /** Batches are cut before they exceed this. */
  targetFrameBytes: number;
}

export interface FeatureLayout {
  featureEncoding: FeatureEncoding;
  featureDim: number;
}

/** Bytes of a length-delimited field (tag < 16) holding `length` bytes. */
const fieldSize = (length: number): number => 1 + varintLength(length) + length;
const stringFieldSize = (value: string): number => fieldSize(Buffer.byteLength(value, 'utf8'));

/**
 * FaceBatch frames for `batch`. Every record is encoded and checked before
 * any frame is returned, so a bad record produces nothing.
 */
export function faceFrames(batch: readonly FaceRecord[], layout: FeatureLayout, limits: BatchLimits): WireFrame[] {
  if (batch.length === 0) return [];
  if (layout.featureDim === 0) throw syncError(SyncErrorCode.BadFeature, 'faces need a header with featureDim > 0');
  const featureField = fieldSize(encodedFeatureLength(layout.featureDim, layout.featureEncoding));
  const entries = batch.map((face) => {
    if (face.feature.length !== layout.featureDim) {
      throw syncError(
        SyncErrorCode.BadFeature,
        `feature of ${face.faceToken} has ${face.feature.length} components, the header says ${layout.featureDim}`,
      );
    }
    const record: FaceRecord<Uint8Array> = {
      faceToken: face.faceToken,
      ...(face.userId !== undefined ? { userId: face.userId } : {}),
      ...(face.userInfo !== undefined ? { userInfo: face.userInfo } : {}),
      feature: encodeFeature(face.feature, layout.featureEncoding),
    };
    const recordBytes =
      stringFieldSize(record.faceToken) +
      (record.userId !== undefined ? stringFieldSize(record.userId) : 0) +
      (record.userInfo !== undefined ? stringFieldSize(record.userInfo) : 0) +
      featureField;
    return { item: record, bytes: fieldSize(recordBytes) };
  });
  return cut(entries, limits, (faces) => ({ type: FrameType.Faces, faces }));
}

/** RemovedBatch frames for `faceTokens`. */
export function removedFrames(faceTokens: readonly string[], limits: BatchLimits): WireFrame[] {
  const entries = faceTokens.map((token) => ({ item: token, bytes: stringFieldSize(token) }));
  return cut(entries, limits, (tokens) => ({ type: FrameType.Removed, faceTokens: tokens }));
}

function cut<T>(entries: { item: T; bytes: number }[], limits: BatchLimits, frame: (items: T[]) => WireFrame): WireFrame[] {
  // A single entry too large for any frame: refuse before producing anything.
  const largest = entries.reduce((max, e) => Math.max(max, e.bytes), 0);
  if (fieldSize(largest) > limits.maxFrameBytes) {
    throw syncError(SyncErrorCode.FrameTooLarge, `a record of ${largest} bytes cannot fit a frame of ${limits.maxFrameBytes}`, {
      length: largest,
      limit: limits.maxFrameBytes,
    });
  }
  const frames: WireFrame[] = [];
  let items: T[] = [];
  let batchBytes = 0;
  for (const { item, bytes } of entries) {
    // fieldSize(): the batch message nested in its Frame field.
    if (items.length > 0 && fieldSize(batchBytes + bytes) > limits.targetFrameBytes) {
      frames.push(frame(items));
      items = [];
      batchBytes = 0;
    }
    items.push(item);
    batchBytes += bytes;
  }
  if (items.length > 0) frames.push(frame(items));
  return frames;
}
