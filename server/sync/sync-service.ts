// Answers a terminal's sync request as a stream of protocol frames
// (device-protocol/PROTOCOL.md). Transport-free: the route pipes the chunks
// to the HTTP response and records the outcome.
//
// Three ways to send a group's records:
// - a large FULL/RESET copy is a reference to a snapshot file, built once
//   per (group, version, encoding) and downloaded separately (resumable);
// - a delta or a small full copy is encoded once into a group body and
//   shared through the body cache by every terminal asking for it;
// - anything larger than the cache takes is streamed page by page.
// A full copy reads the group's bindings at one version in one short read
// (tokens only), then features page by page; a delta reads only the faces
// that changed.
import {
  digestFromHex,
  GroupBodyEncoder,
  negotiateProtocolVersion,
  SyncKind,
  SyncStreamWriter,
  type EncodedGroupBody,
  type FaceRecord as WireFace,
  type FeatureEncoding,
  type GroupResult,
  type SnapshotRef,
  type SyncRequest,
} from '../../device-protocol/index.js';
import type { FaceStore, GroupRecord } from '../../storage/store.js';
import type { GroupId, GroupName, LibraryId } from '../core/ids.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import type { BodyKey, GroupBodyCache } from './body-cache.js';
import { planGroup, type GroupPlan, type GroupSyncRequest } from './plan.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { WireFaceReader } from './wire-faces.js';

export interface SyncServiceOptions {
  /**
   * FULL copies of groups with more faces than this are served as snapshot
   * files (PROTOCOL.md §11), when a snapshot store is given (default 2000).
   */
  snapshotThreshold: number;
  /**
   * Group bodies (a delta's changes, a small group's full copy) of at most
   * this many faces are encoded in memory and shared through the body cache;
   * larger ones are streamed page by page (default 2000).
   */
  cachedBodyMaxFaces: number;
}

export const SYNC_DEFAULTS: SyncServiceOptions = { snapshotThreshold: 2000, cachedBodyMaxFaces: 2000 };

/** Where the service reads and keeps what it sends. */
export interface SyncServiceDeps {
  store: FaceStore;
  /** The served features' model, read once per stream (a model upgrade's switch changes it). */
  readonly searchModel: string;
  featureDim: number;
  /** Reads the records to send, page by page (shared with the snapshot store). */
  faces: WireFaceReader;
  /** Shared encodings of deltas and small full copies; a cache of 0 bytes encodes every time. */
  bodies: GroupBodyCache;
  /** Snapshot files for large full copies; without it every full copy is inline. */
  snapshots?: SnapshotStore;
}

/** What one group's result said, for 底库同步状态查询. */
export interface GroupOutcome {
  groupName: string;
  groupId: number;
  localVersion: number;
  cloudVersion: number;
  facesSent: number;
  removalsSent: number;
  /** The decision sent (GROUP_GONE also when the group went away between plan and send). */
  kind: GroupPlan['kind'];
  /** The group's token digest at cloudVersion (16 hex digits); '' for GROUP_GONE. */
  tokenDigest: string;
}

/** Filled in while the stream is produced. */
export interface SyncOutcome {
  groups: GroupOutcome[];
  /** True once the trailer was produced (false if the stream was aborted). */
  complete: boolean;
  bytes: number;
  /** Why the stream was aborted with an error frame, if it was. */
  error?: unknown;
}

const KIND_OF_PLAN: Record<GroupPlan['kind'], SyncKind> = {
  GROUP_GONE: SyncKind.GroupGone,
  UNCHANGED: SyncKind.Unchanged,
  DELTA: SyncKind.Delta,
  FULL: SyncKind.Full,
  RESET: SyncKind.Reset,
};

export class SyncService {
  private readonly options: SyncServiceOptions;

  constructor(
    private readonly deps: SyncServiceDeps,
    options: Partial<SyncServiceOptions> = {},
  ) {
    this.options = { ...SYNC_DEFAULTS, ...options };
  }

  /**
   * Validates what can be checked before any byte is sent (protocol version),
   * so such errors still become a proper HTTP error. Returns the version to use.
   */
  negotiate(request: SyncRequest): number {
    return negotiateProtocolVersion(request.protocolVersion);
  }

  /**
   * The response stream. `outcome` is filled in as it goes; `beforeTrailer`
   * is called (and awaited if it returns a promise) before the last frame is
   * released, so whatever it records (the device's sync status) is visible
   * by the time the terminal has the whole response.
   */
  async *respond(
    request: SyncRequest,
    library: LibraryId,
    outcome: SyncOutcome,
    beforeTrailer: (outcome: SyncOutcome) => void | Promise<void> = () => {},
  ): AsyncGenerator<Uint8Array> {
    const protocolVersion = this.negotiate(request);
    const model = this.deps.searchModel;
    const writer = new SyncStreamWriter();
    const emit = (bytes: Uint8Array) => {
      outcome.bytes += bytes.length;
      return bytes;
    };
    yield emit(
      writer.header({
        protocolVersion,
        searchModel: model,
        serverTimeMs: Date.now(),
        featureEncoding: request.featureEncoding,
        featureDim: this.deps.featureDim,
      }),
    );
    try {
      const modelMatches = request.searchModel === model;
      for (const wanted of request.groups) {
        const plan = await planGroup(
          this.deps.store,
          library,
          { groupId: (wanted.groupId ?? undefined) as GroupId | undefined, groupName: wanted.groupName as GroupName, localVersion: wanted.localVersion },
          modelMatches,
        );
        const result: GroupOutcome = {
          groupName: wanted.groupName,
          groupId: wanted.groupId ?? 0,
          localVersion: wanted.localVersion,
          cloudVersion: 0,
          facesSent: 0,
          removalsSent: 0,
          kind: plan.kind,
          tokenDigest: '',
        };
        outcome.groups.push(result);
        for await (const chunk of this.groupFrames(writer, plan, request.featureEncoding, result, model)) yield emit(chunk);
      }
      const trailer = writer.finish();
      outcome.complete = true;
      const recorded = beforeTrailer(outcome);
      if (recorded) await recorded;
      yield emit(trailer);
    } catch (err) {
      // Headers are sent already: end with an error frame, the terminal discards the response.
      const code = err instanceof FaceError ? err.code : ErrorCode.Internal;
      outcome.error = err;
      yield emit(writer.abort(code, err instanceof Error ? err.message : String(err)));
    }
  }

  private async *groupFrames(
    writer: SyncStreamWriter,
    plan: GroupPlan,
    encoding: FeatureEncoding,
    result: GroupOutcome,
    model: string,
  ): AsyncGenerator<Uint8Array> {
    const request = plan.request;
    if (plan.kind === 'GROUP_GONE') {
      yield writer.groupResult(groupResultOf(request, undefined, SyncKind.GroupGone));
      return;
    }
    const kind = KIND_OF_PLAN[plan.kind];
    const announce = (group: GroupRecord, snapshot?: SnapshotRef) => {
      result.groupId = group.groupId;
      result.cloudVersion = group.version;
      result.tokenDigest = group.tokenDigest;
      return writer.groupResult(groupResultOf(request, group, kind, snapshot));
    };

    if (plan.kind === 'UNCHANGED') {
      yield announce(plan.group);
    } else if (plan.kind === 'DELTA') {
      const { group, delta } = plan;
      yield announce(group);
      result.removalsSent = delta.removed.length;
      if (delta.upserted.length <= this.options.cachedBodyMaxFaces) {
        const key: BodyKey = { ...this.keyOf(group, encoding, model), kind: 'delta', fromVersion: delta.fromVersion };
        const body = await this.deps.bodies.get(key, () => this.encodeBody(encoding, this.deps.faces.upsertPages(group.groupId, delta.upserted, model), delta.removed));
        result.facesSent = body.faceCount;
        yield writer.body(body);
        return;
      }
      for await (const page of this.deps.faces.upsertPages(group.groupId, delta.upserted, model)) {
        result.facesSent += page.length;
        yield writer.faces(page);
      }
      if (delta.removed.length > 0) yield writer.removed(delta.removed);
    } else if (this.deps.snapshots && plan.group.faceCount > this.options.snapshotThreshold) {
      // FULL or RESET of a large group: a reference to the shared snapshot file.
      const file = await this.deps.snapshots.ensure(plan.group, encoding, model);
      result.facesSent = file.group.faceCount;
      yield announce(file.group, this.deps.snapshots.refOf(file));
    } else {
      // FULL or RESET inline: the bindings at one version first, so the group
      // result announces exactly the version, count and digest that follow.
      const snapshot = await this.deps.store.snapshotGroup(plan.group.groupId);
      if (!snapshot || snapshot.group.deletedAt !== null) {
        // Deleted since it was planned: as if the request had come a moment later.
        result.kind = 'GROUP_GONE';
        yield writer.groupResult(groupResultOf(request, undefined, SyncKind.GroupGone));
        return;
      }
      const { group, bindings } = snapshot;
      yield announce(group);
      if (bindings.length <= this.options.cachedBodyMaxFaces) {
        const key: BodyKey = { ...this.keyOf(group, encoding, model), kind: 'full', fromVersion: 0 };
        const body = await this.deps.bodies.get(key, () => this.encodeBody(encoding, this.deps.faces.pages(bindings, model), []));
        result.facesSent = body.faceCount;
        yield writer.body(body);
        return;
      }
      for await (const page of this.deps.faces.pages(bindings, model)) {
        result.facesSent += page.length;
        yield writer.faces(page);
      }
    }
  }

  private keyOf(group: GroupRecord, featureEncoding: FeatureEncoding, model: string): Omit<BodyKey, 'kind' | 'fromVersion'> {
    return { groupId: group.groupId, toVersion: group.version, searchModel: model, featureEncoding };
  }

  private async encodeBody(
    featureEncoding: FeatureEncoding,
    pages: AsyncIterable<WireFace[]>,
    removed: readonly string[],
  ): Promise<EncodedGroupBody> {
    const encoder = new GroupBodyEncoder({ featureEncoding, featureDim: this.deps.featureDim });
    for await (const page of pages) encoder.faces(page);
    return encoder.removed(removed).finish();
  }
}

/** The group result frame; `group` undefined for GROUP_GONE. */
function groupResultOf(request: GroupSyncRequest, group: GroupRecord | undefined, kind: SyncKind, snapshot?: SnapshotRef): GroupResult {
  return {
    groupName: request.groupName,
    groupId: group?.groupId ?? request.groupId ?? 0,
    cloudVersion: group?.version ?? 0,
    localVersion: request.localVersion,
    kind,
    faceCount: group?.faceCount ?? 0,
    tokenDigest: group ? digestFromHex(group.tokenDigest) : 0n,
    ...(snapshot ? { snapshot } : {}),
  };
}
