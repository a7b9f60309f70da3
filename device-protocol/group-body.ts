// The records of one group result (FaceBatch frames, then RemovedBatch
// frames), encoded once and spliced into any number of streams with
// SyncStreamWriter.body(). A server answering hundreds of terminals that ask
// for the same delta after a push encodes it once; each stream still gets
// its own header, group result, CRC and trailer.
import { FrameType, MAX_FRAME_BYTES, TARGET_FRAME_BYTES } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { encodeFrame, type FaceRecord } from './frames.js';
import { faceFrames, removedFrames, type BatchLimits, type FeatureLayout } from './batches.js';
import type { WriterOptions } from './writer.js';

export interface EncodedGroupBody extends Readonly<FeatureLayout> {
  readonly faceCount: number;
  readonly removedCount: number;
  /** Length-prefixed frames: all FaceBatch frames, then all RemovedBatch frames. */
  readonly bytes: Uint8Array;
}

export class GroupBodyEncoder {
  readonly #layout: FeatureLayout;
  readonly #limits: BatchLimits;
  readonly #parts: Uint8Array[] = [];
  #faceCount = 0;
  #removedCount = 0;
  #finished = false;

  constructor(layout: FeatureLayout, options: WriterOptions = {}) {
    this.#layout = { ...layout };
    const maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#limits = { maxFrameBytes, targetFrameBytes: Math.min(options.targetFrameBytes ?? TARGET_FRAME_BYTES, maxFrameBytes) };
  }

  faces(batch: readonly FaceRecord[]): this {
    this.#checkOpen();
    if (this.#removedCount > 0) throw syncError(SyncErrorCode.BadOrder, 'face records must come before the removed tokens');
    for (const frame of faceFrames(batch, this.#layout, this.#limits)) this.#parts.push(encodeFrame(frame, this.#limits.maxFrameBytes));
    this.#faceCount += batch.length;
    return this;
  }

  removed(faceTokens: readonly string[]): this {
    this.#checkOpen();
    for (const frame of removedFrames(faceTokens, this.#limits)) this.#parts.push(encodeFrame(frame, this.#limits.maxFrameBytes));
    this.#removedCount += faceTokens.length;
    return this;
  }

  finish(): EncodedGroupBody {
    this.#checkOpen();
    this.#finished = true;
    return {
      ...this.#layout,
      faceCount: this.#faceCount,
      removedCount: this.#removedCount,
      bytes: Buffer.concat(this.#parts),
    };
  }

  #checkOpen(): void {
    if (this.#finished) throw syncError(SyncErrorCode.BadOrder, 'the group body is finished');
  }
}

/** The frame types a body holds, in order, for the stream's order check. */
export function bodyFrameRuns(body: EncodedGroupBody): { type: typeof FrameType.Faces | typeof FrameType.Removed; items: number }[] {
  return [
    ...(body.faceCount > 0 ? [{ type: FrameType.Faces, items: body.faceCount } as const] : []),
    ...(body.removedCount > 0 ? [{ type: FrameType.Removed, items: body.removedCount } as const] : []),
  ];
}
