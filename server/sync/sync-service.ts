// Answers a terminal's sync request as a stream of protocol frames
// (device-protocol/PROTOCOL.md). Transport-free: the route pipes the chunks
// to the HTTP response and records the outcome.
//
// Memory stays bounded by one page: a FULL copy reads the group's bindings
// at one version in one short read (tokens only), then features page by
// page; a DELTA reads only the faces that changed.
import {
  negotiateProtocolVersion,
  SyncKind,
  SyncStreamWriter,
  digestFromHex,
  type FaceRecord as WireFace,
  type SyncRequest,
} from '../../device-protocol/index.js';
import type { BindingRecord, FaceStore, GroupRecord } from '../../storage/store.js';
import type { FaceToken, GroupId, GroupName, LibraryId } from '../core/ids.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import { planGroup, type GroupPlan } from './plan.js';

export interface SyncServiceOptions {
  /** Faces read from the store per page while streaming (default 500). */
  pageSize: number;
}

export const SYNC_DEFAULTS: SyncServiceOptions = { pageSize: 500 };

/** What one group's result said, for 底库同步状态查询. */
export interface GroupOutcome {
  groupName: string;
  groupId: number;
  localVersion: number;
  cloudVersion: number;
  facesSent: number;
  removalsSent: number;
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
    private readonly store: FaceStore,
    private readonly searchModel: string,
    private readonly featureDim: number,
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
   * is awaited before the last frame is released, so whatever it records
   * (the device's sync status) is visible by the time the terminal has the
   * whole response.
   */
  async *respond(
    request: SyncRequest,
    library: LibraryId,
    outcome: SyncOutcome,
    beforeTrailer: (outcome: SyncOutcome) => Promise<void> = async () => {},
  ): AsyncGenerator<Uint8Array> {
    const protocolVersion = this.negotiate(request);
    const writer = new SyncStreamWriter();
    const emit = (bytes: Uint8Array) => {
      outcome.bytes += bytes.length;
      return bytes;
    };
    yield emit(
      writer.header({
        protocolVersion,
        searchModel: this.searchModel,
        serverTimeMs: Date.now(),
        featureEncoding: request.featureEncoding,
        featureDim: this.featureDim,
      }),
    );
    try {
      const modelMatches = request.searchModel === this.searchModel;
      for (const wanted of request.groups) {
        const plan = await planGroup(
          this.store,
          library,
          { groupId: (wanted.groupId ?? undefined) as GroupId | undefined, groupName: wanted.groupName as GroupName, localVersion: wanted.localVersion },
          modelMatches,
        );
        for await (const chunk of this.groupFrames(writer, plan, outcome)) yield emit(chunk);
      }
      const trailer = writer.finish();
      outcome.complete = true;
      await beforeTrailer(outcome);
      yield emit(trailer);
    } catch (err) {
      // Headers are sent already: end with an error frame, the terminal discards the response.
      const code = err instanceof FaceError ? err.code : ErrorCode.Internal;
      outcome.error = err;
      yield emit(writer.abort(code, err instanceof Error ? err.message : String(err)));
    }
  }

  private async *groupFrames(writer: SyncStreamWriter, plan: GroupPlan, outcome: SyncOutcome): AsyncGenerator<Uint8Array> {
    const request = plan.request;
    const result: GroupOutcome = {
      groupName: request.groupName,
      groupId: request.groupId ?? 0,
      localVersion: request.localVersion,
      cloudVersion: 0,
      facesSent: 0,
      removalsSent: 0,
    };
    outcome.groups.push(result);

    if (plan.kind === 'GROUP_GONE') {
      yield writer.groupResult({
        groupName: request.groupName,
        groupId: request.groupId ?? 0,
        cloudVersion: 0,
        localVersion: request.localVersion,
        kind: SyncKind.GroupGone,
        faceCount: 0,
        tokenDigest: 0n,
      });
      return;
    }

    // FULL and RESET read the bindings at one version first, so the group
    // result announces exactly the version, count and digest that follow.
    const snapshot = plan.kind === 'FULL' || plan.kind === 'RESET' ? await this.store.snapshotGroup(plan.group.groupId) : undefined;
    const group: GroupRecord = snapshot?.group ?? plan.group;
    result.groupId = group.groupId;
    result.cloudVersion = group.version;
    yield writer.groupResult({
      groupName: request.groupName,
      groupId: group.groupId,
      cloudVersion: group.version,
      localVersion: request.localVersion,
      kind: KIND_OF_PLAN[plan.kind],
      faceCount: group.faceCount,
      tokenDigest: digestFromHex(group.tokenDigest),
    });

    if (snapshot) {
      for (let start = 0; start < snapshot.bindings.length; start += this.options.pageSize) {
        const page = snapshot.bindings.slice(start, start + this.options.pageSize);
        const faces = await this.wireFaces(page);
        result.facesSent += faces.length;
        yield writer.faces(faces);
      }
    } else if (plan.kind === 'DELTA') {
      const { upserted, removed } = plan.delta;
      for (let start = 0; start < upserted.length; start += this.options.pageSize) {
        const tokens = upserted.slice(start, start + this.options.pageSize);
        const bindings = await this.store.getBindings(group.groupId, tokens);
        // A face unbound after the delta's version has no binding any more:
        // it is still part of that version; the next sync removes it.
        const faces = await this.wireFaces(bindings.map((binding, i) => binding ?? { faceToken: tokens[i]!, boundAt: 0 }));
        result.facesSent += faces.length;
        yield writer.faces(faces);
      }
      if (removed.length > 0) {
        result.removalsSent = removed.length;
        yield writer.removed(removed);
      }
    }
  }

  /** Features and user data of bound faces, in the order given. */
  private async wireFaces(bindings: readonly BindingRecord[]): Promise<WireFace[]> {
    const faces = await this.store.getFaces(bindings.map((binding) => binding.faceToken as FaceToken));
    return bindings.map((binding, i) => {
      const face = faces[i];
      if (!face || face.feature.length !== this.featureDim || face.modelVersion !== this.searchModel) {
        // Deleted since the bindings were read (its feature is gone), or from
        // another model: this response cannot be consistent; the terminal retries.
        throw new FaceError(ErrorCode.Internal, `face ${binding.faceToken} changed while streaming; retry the sync`);
      }
      return {
        faceToken: binding.faceToken,
        ...(binding.userId !== undefined ? { userId: binding.userId } : {}),
        ...(binding.userInfo !== undefined ? { userInfo: binding.userInfo } : {}),
        feature: face.feature,
      };
    });
  }
}
