// FacePass terminal sync (spec 底库同步, 底库同步状态查询): the JSON request
// in, the binary stream of device-protocol/PROTOCOL.md out, and the last
// sync of every device for the status query.
import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isSyncError, isValidDeviceId, parseSyncRequest, SyncErrorCode, SYNC_MEDIA_TYPE, type SyncRequest } from '../../device-protocol/index.js';
import type { ServerConfig } from '../config.js';
import { DEFAULT_LIBRARY } from '../core/ids.js';
import { ErrorCode, FaceError, illegalArgument, missingArgument } from '../core/errors.js';
import type { Authenticator, Principal } from '../http/auth.js';
import { readJsonObject } from '../http/body.js';
import { optionalArg, pageLimit, type ArgParser } from './args.js';
import type { SyncOutcome, SyncService } from '../sync/sync-service.js';
import type { DeviceSyncStatus, SyncStatusStore } from '../../storage/sync-status.js';
import { facepassNotFound, facepassRoute, RESPONDED } from './envelope.js';
import { SNAPSHOT_PATH, type SnapshotStore } from '../sync/snapshot-store.js';
import { sendRangedFile } from '../http/ranged-file.js';
import { readSmallResponse } from '../sync/small-response.js';

export interface SyncRouteDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  sync: SyncService;
  snapshots: SnapshotStore;
  status: SyncStatusStore;
}

/** The request, validated (with the bounds of PROTOCOL.md §15), with the dialect's error codes. */
function parseRequest(body: Record<string, unknown>): SyncRequest {
  try {
    return parseSyncRequest(body);
  } catch (err) {
    if (isSyncError(err) && err.code === SyncErrorCode.BadRequest) {
      const details = err.details as { missing?: string[]; illegal?: string[] };
      if (details.missing?.length) throw missingArgument(...details.missing);
      throw illegalArgument(...(details.illegal ?? ['body']));
    }
    throw err;
  }
}

/** Who the caller is; the route has already checked that the key is valid. */
function principalOf(auth: Authenticator, ctx: Context): Principal {
  const principal = auth.identify(ctx.req.headers);
  if (principal === null) throw new FaceError(ErrorCode.Unauthorized, 'missing or wrong access key');
  return principal;
}

const forbidden = (message: string) => new FaceError(ErrorCode.Unauthorized, message, { forbidden: true });

/**
 * The device a sync is recorded under. A per-terminal key is its device (an
 * X-Device-Id naming another is 403); the shared key may name any device
 * that has no key of its own.
 */
function deviceOf(ctx: Context, auth: Authenticator, principal: Principal): { device: string; deviceId: string | null; ip: string } {
  const header = ctx.get('x-device-id');
  if (header !== '' && !isValidDeviceId(header)) throw illegalArgument('X-Device-Id');
  const ip = ctx.ip;
  const named = principal.role === 'device' && principal.deviceId !== null && header === '' ? principal.deviceId : header;
  if (named !== '' && !auth.mayActAs(principal, named)) throw forbidden(`this key may not act as device ${named}`);
  return { device: named || ip, deviceId: named || null, ip };
}

function statusOf(request: SyncRequest, who: ReturnType<typeof deviceOf>, outcome: SyncOutcome, ok: boolean): DeviceSyncStatus {
  return {
    ...who,
    clientVersion: request.clientVersion,
    syncTime: Date.now(),
    searchModel: request.searchModel,
    featureEncoding: request.featureEncoding,
    bytes: outcome.bytes,
    groups: outcome.groups.map((group) => ({
      groupName: group.groupName,
      groupId: group.groupId,
      localVersion: group.localVersion,
      cloudVersion: group.cloudVersion,
      resultCode: ok ? 0 : 1,
      // Spec: result_code 0 ? cloud_version : local_version. GROUP_GONE keeps
      // the terminal's copy and its version (不删除 local，保留 local version).
      resultVersion: ok && group.kind !== 'GROUP_GONE' ? group.cloudVersion : group.localVersion,
      faceTokensAdded: group.facesSent,
      faceTokensDeleted: faceTokensDeleted(group),
      kind: group.kind,
      ...(group.tokenDigest ? { tokenDigest: group.tokenDigest } : {}),
    })),
  };
}

/**
 * Tokens the terminal dropped. FULL and RESET replace its whole copy: a copy
 * at version 0 held nothing, but what a copy at another version held is not
 * known (the change log is compacted, a delta's removals are only "possibly
 * held"), so it is null there and left out of the JSON (README).
 */
function faceTokensDeleted(group: SyncOutcome['groups'][number]): number | null {
  if (group.kind !== 'FULL' && group.kind !== 'RESET') return group.removalsSent;
  return group.localVersion === 0 ? 0 : null;
}

/** Status query paging (an addition: the spec answers every device at once). */
export const STATUS_PAGE_DEFAULT = 100;
export const STATUS_PAGE_MAX = 1000;

const deviceKey: ArgParser<string> = (value) => (typeof value === 'string' && value.length <= 256 ? value : undefined);

/** The spec's JSON for one device. `groups` stands both inside sync_status (the field table) and beside it (the example). */
function statusJson(status: DeviceSyncStatus) {
  const groups = status.groups.map((group) => ({
    group_name: group.groupName,
    group_id: group.groupId,
    local_version: group.localVersion,
    cloud_version: group.cloudVersion,
    result_code: group.resultCode,
    result_version: group.resultVersion,
    result: {
      facetoken_added: group.faceTokensAdded,
      ...(group.faceTokensDeleted === null ? {} : { facetoken_deleted: group.faceTokensDeleted }),
    },
    // Additions (README): the decision sent, and the digest the terminal checks its copy against (PROTOCOL.md §10).
    ...(group.kind ? { kind: group.kind } : {}),
    ...(group.tokenDigest ? { token_digest: group.tokenDigest } : {}),
  }));
  return {
    ip: status.ip,
    device_id: status.deviceId,
    version: status.clientVersion,
    sync_status: { sync_time: status.syncTime, info: { search_model: status.searchModel }, groups },
    groups,
  };
}

export function syncRouter(deps: SyncRouteDeps): Router {
  const router = new Router();
  const device = (handler: Parameters<typeof facepassRoute>[3]) => facepassRoute(deps.auth, 'device', deps.logger, handler);

  router.post('/api/service/sync/v1', device(async (ctx) => {
    const request = parseRequest(await readJsonObject(ctx.req, deps.config.maxRequestBytes));
    const who = deviceOf(ctx, deps.auth, principalOf(deps.auth, ctx));
    try {
      deps.sync.negotiate(request);
    } catch (err) {
      if (isSyncError(err)) throw illegalArgument('protocol_version');
      throw err;
    }
    const outcome: SyncOutcome = { groups: [], complete: false, bytes: 0 };
    const record = (succeeded: boolean) =>
      deps.status
        .record(statusOf(request, who, outcome, succeeded))
        .catch((err) => deps.logger.error({ err }, 'recording sync status failed'));
    // Recorded as a success just before the trailer goes out (so a status
    // query after the terminal's sync sees it: the store shows a record from
    // the record() call on, so the trailer does not wait for its commit and
    // fsync); re-recorded as a failure if the response then does not reach
    // its end (the store keeps the order of the two).
    ctx.res.once('close', () => {
      if (outcome.error) deps.logger.error({ err: outcome.error, device: who.device }, 'sync stream aborted');
      if (outcome.complete && ctx.res.writableFinished) return;
      outcome.complete = false;
      void record(false);
    });
    // A small response is produced whole first and sent in one write (small-response.ts).
    const frames = await readSmallResponse(deps.sync.respond(request, DEFAULT_LIBRARY, outcome, () => void record(true)));
    if ('whole' in frames) return { file: frames.whole, mime: SYNC_MEDIA_TYPE };
    return { stream: Readable.from(frames.stream), mime: SYNC_MEDIA_TYPE };
  }));

  // PROTOCOL.md §11: a FULL copy too large to send inline, resumable with Range + If-Range.
  router.get(`${SNAPSHOT_PATH}/:id`, device(async (ctx) => {
    const file = deps.snapshots.get(ctx.params.id ?? '');
    // Unknown, or expired after its group moved on: the terminal syncs again and gets a new reference.
    if (!file) facepassNotFound(ctx);
    else sendRangedFile(ctx, { ...file, mime: SYNC_MEDIA_TYPE });
    return RESPONDED;
  }));

  // Paged (README): ?limit=1..1000 (default 100) devices in device order after ?after=<device>;
  // `next` is the cursor for the following page, absent on the last one. ?device_id= asks for one.
  router.get('/api/service/sync/v1/status', device(async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const principal = principalOf(deps.auth, ctx);
    // A per-terminal key sees its own device only.
    const own = principal.role === 'device' ? principal.deviceId : null;
    if (own !== null) {
      const status = await deps.status.get(own);
      return { devices: status ? [statusJson(status)] : [], total: status ? 1 : 0 };
    }
    const one = optionalArg(query, 'device_id', deviceKey);
    if (one !== undefined) {
      const status = await deps.status.get(one);
      return { devices: status ? [statusJson(status)] : [], total: await deps.status.count() };
    }
    const limit = optionalArg(query, 'limit', pageLimit(STATUS_PAGE_MAX)) ?? STATUS_PAGE_DEFAULT;
    const after = optionalArg(query, 'after', deviceKey);
    // One more than asked tells whether another page follows.
    const page = await deps.status.list({ after, limit: limit + 1 });
    const devices = page.slice(0, limit);
    return {
      devices: devices.map(statusJson),
      total: await deps.status.count(),
      ...(page.length > limit ? { next: devices[devices.length - 1]!.device } : {}),
    };
  }));

  return router;
}
