// Applies a sync response to a TerminalGallery, atomically.
//
// Each group's changes are staged as a journal over its faces before the
// sync (face-journal.ts): only the records the stream carries, with the
// group's face count and digest kept current as they arrive, so a one-face
// delta costs microseconds however large the gallery is, and checking it
// costs O(changes). Only when the whole stream has been decoded (trailer CRC
// and counts checked), every snapshot downloaded and verified, and each
// group's face count and digest compared, are the journals applied (to
// copy-on-write maps: earlier states stay valid) and the new state swapped in.
// Any error before that leaves the gallery as it was.
//
// A count or digest mismatch is not an error of the stream (that would have
// failed the CRC) but a local copy that drifted from the server's, or a
// server that lost track. The group's new contents are still committed
// (removals in the delta must take effect: a revoked face must stop opening
// the door), but with version 0 and no group id, so the next sync asks for
// the group by name only and gets a FULL copy. The report says which groups
// this happened to and sets needsResync.
import { FrameType, MAX_FRAME_BYTES, SyncKind } from './constants.js';
import { SyncStreamDecoder, type SyncFrame } from './decoder.js';
import { EMPTY_DIGEST } from './digest.js';
import { syncError, SyncErrorCode } from './errors.js';
import { FaceJournal } from './face-journal.js';
import { FaceMap } from './face-map.js';
import type { GroupResult, StreamHeader } from './frames.js';
import { emptyGroup, type GalleryState, type LocalGroup, type TerminalGallery } from './gallery.js';
import { networkError, type FetchLike } from './http.js';
import { downloadSnapshot } from './snapshot.js';

export interface ApplyOptions {
  /** Used to download snapshots; required only if the server sends a snapshot reference. */
  fetch?: FetchLike;
  /** The sync request URL, which relative snapshot URLs are resolved against. */
  requestUrl?: string;
  /** Sent with snapshot requests to the same origin (Authorization, X-Device-Id). */
  headers?: Record<string, string>;
  /** Default MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
  /** Requests per snapshot, resumptions included (default 4). */
  snapshotAttempts?: number;
  /** Aborting fails the sync with SYNC_ERR_CLOSED and commits nothing. */
  signal?: AbortSignal;
}

export type MismatchReason = 'face_count' | 'digest';

export interface GroupSyncReport {
  groupName: string;
  kind: SyncKind;
  /** The server's group id (0 for GROUP_GONE). */
  groupId: number;
  cloudVersion: number;
  /** The local version before this sync. */
  previousVersion: number;
  /** Faces held locally after this sync. */
  faceCount: number;
  /** Face records applied (inserted or replaced). */
  upserted: number;
  /** Faces actually removed by the delta. */
  removed: number;
  /** The records came from a snapshot download. */
  viaSnapshot: boolean;
  /** Requests the snapshot download took, resumptions included (0 without a snapshot). */
  snapshotRequests: number;
  /** Set when the local copy disagrees with the server's count or digest; the group now has version 0 and no id. */
  mismatch?: MismatchReason;
}

export interface SyncReport {
  header: StreamHeader;
  /** All local data was dropped first (model or feature encoding change). */
  reset: boolean;
  groups: GroupSyncReport[];
  /** Some group mismatched: sync again to fetch its full copy. */
  needsResync: boolean;
  /** Bytes of the response body (snapshots not included). */
  bytes: number;
  /** Bytes of snapshot bodies received, over all their requests. */
  snapshotBytes: number;
}

interface StagedGroup {
  result: GroupResult;
  before: LocalGroup;
  /** Over the group's faces for DELTA and UNCHANGED, over the empty group for FULL and RESET. */
  journal: FaceJournal;
  snapshotRequests: number;
  snapshotBytes: number;
}

/** The gallery-level meaning of a stream, built frame by frame. */
class Stage {
  readonly groups: Map<string, LocalGroup>;
  readonly staged: StagedGroup[] = [];
  header: StreamHeader | undefined;
  reset = false;
  #current: StagedGroup | undefined;

  constructor(readonly base: GalleryState) {
    this.groups = new Map(base.groups);
  }

  apply(frame: SyncFrame): void {
    switch (frame.type) {
      case FrameType.Header:
        this.header = frame.header;
        // Features of another model or encoding must not be mixed with the
        // new ones, whatever the group results say.
        if (frame.header.searchModel !== this.base.searchModel || frame.header.featureEncoding !== this.base.featureEncoding) {
          this.#dropAll();
        }
        return;
      case FrameType.Group:
        this.#current = this.#startGroup(frame.group);
        return;
      case FrameType.Faces:
        this.#current!.journal.upsert(frame.faces);
        return;
      case FrameType.Removed:
        this.#current!.journal.remove(frame.faceTokens);
        return;
      default:
    }
  }

  #dropAll(): void {
    for (const name of this.groups.keys()) this.groups.set(name, emptyGroup());
    this.reset = true;
  }

  #startGroup(result: GroupResult): StagedGroup {
    const inconsistent = (why: string): never => {
      throw syncError(SyncErrorCode.Inconsistent, `group ${result.groupName}: ${why}`, { group: result.groupName });
    };
    if (this.staged.some((s) => s.result.groupName === result.groupName)) inconsistent('answered twice');
    if (result.kind === SyncKind.Reset && !this.reset) {
      if (this.staged.some((s) => s.result.kind !== SyncKind.GroupGone)) inconsistent('RESET after groups were applied normally');
      this.#dropAll();
    }
    const before = this.groups.get(result.groupName) ?? inconsistent('not held by this gallery');
    const incremental = result.kind === SyncKind.Delta || result.kind === SyncKind.Unchanged;
    if (incremental && this.reset) inconsistent('only full copies can follow a model or encoding change');
    if (incremental && (before.groupId !== result.groupId || before.version !== result.localVersion)) {
      // The answer is for another local state (e.g. a stale response): applying it would corrupt the copy.
      inconsistent(`answers id ${result.groupId} v${result.localVersion}, local is id ${before.groupId} v${before.version}`);
    }
    const full = result.kind === SyncKind.Full || result.kind === SyncKind.Reset;
    const staged: StagedGroup = {
      result,
      before,
      journal: full ? new FaceJournal(FaceMap.EMPTY, EMPTY_DIGEST) : new FaceJournal(before.faces, before.digest),
      snapshotRequests: 0,
      snapshotBytes: 0,
    };
    this.staged.push(staged);
    return staged;
  }
}

export async function applySyncStream(
  gallery: TerminalGallery,
  chunks: AsyncIterable<Uint8Array>,
  options: ApplyOptions = {},
): Promise<SyncReport> {
  const stage = new Stage(gallery.state);
  const decoder = new SyncStreamDecoder({ maxFrameBytes: options.maxFrameBytes ?? MAX_FRAME_BYTES });
  try {
    for await (const chunk of chunks) for (const frame of decoder.push(chunk)) stage.apply(frame);
  } catch (err) {
    throw networkError(err, 'reading the sync response');
  }
  decoder.end();
  const header = stage.header!;

  for (const s of stage.staged) {
    if (s.result.snapshot) await fillFromSnapshot(s, header, options);
  }
  if (options.signal?.aborted) throw syncError(SyncErrorCode.Closed, 'sync aborted');

  const reports: GroupSyncReport[] = [];
  for (const s of stage.staged) {
    const { result } = s;
    let group = s.before;
    let mismatch: MismatchReason | undefined;
    if (result.kind === SyncKind.GroupGone) {
      // Spec: no error, keep the local copy and its version (emptied above if this was a reset).
      group = stage.groups.get(result.groupName)!;
    } else {
      const { journal } = s;
      if (journal.size !== result.faceCount) mismatch = 'face_count';
      else if (journal.digest !== result.tokenDigest) mismatch = 'digest';
      // Every check of the stream passed: only now is the journal applied.
      const faces = journal.build();
      group = mismatch
        ? { groupId: null, version: 0, faces, digest: journal.digest }
        : { groupId: result.groupId, version: result.cloudVersion, faces, digest: journal.digest };
      stage.groups.set(result.groupName, group);
    }
    reports.push({
      groupName: result.groupName,
      kind: result.kind,
      groupId: result.groupId,
      cloudVersion: result.cloudVersion,
      previousVersion: stage.base.groups.get(result.groupName)?.version ?? 0,
      faceCount: group.faces.size,
      upserted: s.journal.upserted,
      removed: s.journal.removed,
      viaSnapshot: result.snapshot !== undefined,
      snapshotRequests: s.snapshotRequests,
      ...(mismatch ? { mismatch } : {}),
    });
  }

  gallery.commit(stage.base, {
    searchModel: header.searchModel,
    featureEncoding: header.featureEncoding,
    groups: stage.groups,
  });
  return {
    header,
    reset: stage.reset,
    groups: reports,
    needsResync: reports.some((r) => r.mismatch !== undefined),
    bytes: decoder.bytesReceived,
    snapshotBytes: stage.staged.reduce((sum, s) => sum + s.snapshotBytes, 0),
  };
}

async function fillFromSnapshot(s: StagedGroup, header: StreamHeader, options: ApplyOptions): Promise<void> {
  const { result } = s;
  if (!options.fetch || !options.requestUrl) {
    throw syncError(SyncErrorCode.Snapshot, `group ${result.groupName} comes as a snapshot, but no fetch/requestUrl was given`);
  }
  const content = await downloadSnapshot(result.snapshot!, {
    fetch: options.fetch,
    baseUrl: options.requestUrl,
    headers: options.headers,
    maxFrameBytes: options.maxFrameBytes,
    attempts: options.snapshotAttempts,
    signal: options.signal,
  });
  const g = content.group;
  const h = content.header;
  const matches =
    h.searchModel === header.searchModel &&
    h.featureEncoding === header.featureEncoding &&
    h.featureDim === header.featureDim &&
    g.kind === SyncKind.Full &&
    g.snapshot === undefined &&
    g.groupName === result.groupName &&
    g.groupId === result.groupId &&
    g.cloudVersion === result.cloudVersion &&
    g.faceCount === result.faceCount &&
    g.tokenDigest === result.tokenDigest;
  if (!matches) {
    throw syncError(SyncErrorCode.Inconsistent, `snapshot of group ${result.groupName} does not match its reference`, {
      group: result.groupName,
    });
  }
  s.snapshotRequests = content.requests;
  s.snapshotBytes = content.bytesTransferred;
  s.journal.upsert(content.faces);
}
