// The grammar of a sync stream, enforced identically by the writer (so the
// server cannot emit a stream terminals reject) and by the decoder:
//
//   stream = header group* (trailer | error)
//   group  = GroupResult FaceBatch* RemovedBatch*
//
// FaceBatch only after DELTA, FULL or RESET without a snapshot reference;
// RemovedBatch only after DELTA; a snapshot reference only with FULL or RESET.
// It also keeps the counts the trailer must carry.
import { FrameType, SyncKind } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import type { Frame, GroupResult } from './frames.js';

export interface StreamCounts {
  groupCount: number;
  faceCount: number;
  removedCount: number;
}

type Phase = 'start' | 'groups' | 'done';
type RunType = typeof FrameType.Faces | typeof FrameType.Removed;

/** What the order check needs of a frame: its type, the group result, the number of records. */
interface FrameSummary {
  type: Frame<unknown>['type'];
  group?: GroupResult;
  items: number;
}

function summarize(frame: Frame<unknown>): FrameSummary {
  switch (frame.type) {
    case FrameType.Group:
      return { type: frame.type, group: frame.group, items: 0 };
    case FrameType.Faces:
      return { type: frame.type, items: frame.faces.length };
    case FrameType.Removed:
      return { type: frame.type, items: frame.faceTokens.length };
    default:
      return { type: frame.type, items: 0 };
  }
}

export class FrameOrder {
  #phase: Phase = 'start';
  /** The current group's kind, null before the first group. */
  #kind: SyncKind | null = null;
  #hasSnapshot = false;
  #sawRemoved = false;
  readonly #counts: StreamCounts = { groupCount: 0, faceCount: 0, removedCount: 0 };

  get counts(): Readonly<StreamCounts> {
    return this.#counts;
  }

  /** True once a trailer or error frame was accepted. */
  get done(): boolean {
    return this.#phase === 'done';
  }

  /** Throws SYNC_ERR_BAD_ORDER if a frame of this type may not come next. Changes nothing. */
  check(frame: Frame<unknown>): void {
    this.#visit(summarize(frame), false);
  }

  /** Throws SYNC_ERR_BAD_ORDER if `frame` may not come next; otherwise records it. */
  accept(frame: Frame<unknown>): void {
    this.#visit(summarize(frame), true);
  }

  /**
   * Records a run of already-encoded FaceBatch or RemovedBatch frames holding
   * `items` records in all (a pre-encoded group body), with the same checks.
   */
  acceptRun(type: RunType, items: number): void {
    this.#visit({ type, items }, true);
  }

  /** Throws SYNC_ERR_BAD_ORDER if such a run may not come next. Changes nothing. */
  checkRun(type: RunType): void {
    this.#visit({ type, items: 0 }, false);
  }

  #visit(frame: FrameSummary, record: boolean): void {
    const fail = (why: string): never => {
      throw syncError(SyncErrorCode.BadOrder, why, { type: frame.type });
    };
    if (this.#phase === 'done') fail('nothing may follow the trailer or an error frame');
    if (this.#phase === 'start' && frame.type !== FrameType.Header && frame.type !== FrameType.Error) {
      fail('the stream must start with a header');
    }
    switch (frame.type) {
      case FrameType.Header:
        if (this.#phase !== 'start') fail('only one header is allowed');
        if (record) this.#phase = 'groups';
        return;
      case FrameType.Group: {
        const { kind, snapshot } = frame.group!;
        if (snapshot && kind !== SyncKind.Full && kind !== SyncKind.Reset) {
          fail('a snapshot reference is only allowed with FULL or RESET');
        }
        if (!record) return;
        this.#kind = kind;
        this.#hasSnapshot = snapshot !== undefined;
        this.#sawRemoved = false;
        this.#counts.groupCount++;
        return;
      }
      case FrameType.Faces:
        if (this.#kind !== SyncKind.Delta && this.#kind !== SyncKind.Full && this.#kind !== SyncKind.Reset) {
          fail('face records are only allowed after a DELTA, FULL or RESET group result');
        }
        if (this.#hasSnapshot) fail('face records are not allowed inline when the group has a snapshot reference');
        if (this.#sawRemoved) fail('face records must come before the removed tokens of their group');
        if (record) this.#counts.faceCount += frame.items;
        return;
      case FrameType.Removed:
        if (this.#kind !== SyncKind.Delta) fail('removed tokens are only allowed after a DELTA group result');
        if (!record) return;
        this.#sawRemoved = true;
        this.#counts.removedCount += frame.items;
        return;
      case FrameType.Trailer:
      case FrameType.Error:
        if (record) this.#phase = 'done';
        return;
    }
  }
}
