// FacePass terminal sync (spec 底库同步, 底库同步状态查询): the JSON request
// in, the binary stream of device-protocol/PROTOCOL.md out, and the last
// sync of every device for the status query.
import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isSyncError, parseSyncRequest, SyncErrorCode, SYNC_MEDIA_TYPE, type SyncRequest } from '../../device-protocol/index.js';
import type { ServerConfig } from '../config.js';
import { DEFAULT_LIBRARY } from '../core/ids.js';
import { illegalArgument, missingArgument } from '../core/errors.js';
import type { Authenticator } from '../http/auth.js';
import { readJsonObject } from '../http/body.js';
import type { SyncOutcome, SyncService } from '../sync/sync-service.js';
import type { DeviceSyncStatus, SyncStatusStore } from '../../storage/sync-status.js';
import { facepassNotFound, facepassRoute, RESPONDED } from './envelope.js';
import { SNAPSHOT_PATH, type SnapshotStore } from '../sync/snapshot-store.js';
import { sendRangedFile } from '../http/ranged-file.js';

export interface SyncRouteDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  sync: SyncService;
  snapshots: SnapshotStore;
  status: SyncStatusStore;
}

/** More groups than any terminal holds; bounds the work one request can ask for. */
const MAX_GROUPS_PER_REQUEST = 1000;
const DEVICE_ID = /^[\x21-\x7e]{1,128}$/;

/** The request, validated, with the dialect's error codes. */
function parseRequest(body: Record<string, unknown>): SyncRequest {
  try {
    const request = parseSyncRequest(body);
    if (request.groups.length > MAX_GROUPS_PER_REQUEST) throw illegalArgument('groups');
    return request;
  } catch (err) {
    if (isSyncError(err) && err.code === SyncErrorCode.BadRequest) {
      const details = err.details as { missing?: string[]; illegal?: string[] };
      if (details.missing?.length) throw missingArgument(...details.missing);
      throw illegalArgument(...(details.illegal ?? ['body']));
    }
    throw err;
  }
}

function deviceOf(ctx: Context): { device: string; deviceId: string | null; ip: string } {
  const header = ctx.get('x-device-id');
  if (header !== '' && !DEVICE_ID.test(header)) throw illegalArgument('X-Device-Id');
  const ip = ctx.ip;
  return { device: header || ip, deviceId: header || null, ip };
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
      resultVersion: ok ? group.cloudVersion : group.localVersion,
      faceTokensAdded: group.facesSent,
      faceTokensDeleted: group.removalsSent,
    })),
  };
}

/** The spec's JSON for one device. `groups` stands both inside sync_status (the field table) and beside it (the example). */
function statusJson(status: DeviceSyncStatus) {
  const groups = status.groups.map((group) => ({
    group_name: group.groupName,
    group_id: group.groupId,
    local_version: group.localVersion,
    cloud_version: group.cloudVersion,
    result_code: group.resultCode,
    result_version: group.resultVersion,
    result: { facetoken_added: group.faceTokensAdded, facetoken_deleted: group.faceTokensDeleted },
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
    const who = deviceOf(ctx);
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
    // query after the terminal's sync sees it); re-recorded as a failure if
    // the response then does not reach its end.
    const stream = Readable.from(deps.sync.respond(request, DEFAULT_LIBRARY, outcome, () => record(true)));
    ctx.res.once('close', () => {
      if (outcome.error) deps.logger.error({ err: outcome.error, device: who.device }, 'sync stream aborted');
      if (outcome.complete && ctx.res.writableFinished) return;
      outcome.complete = false;
      void record(false);
    });
    return { stream, mime: SYNC_MEDIA_TYPE };
  }));

  // PROTOCOL.md §11: a FULL copy too large to send inline, resumable with Range + If-Range.
  router.get(`${SNAPSHOT_PATH}/:id`, device(async (ctx) => {
    const file = deps.snapshots.get(ctx.params.id ?? '');
    // Unknown, or expired after its group moved on: the terminal syncs again and gets a new reference.
    if (!file) facepassNotFound(ctx);
    else sendRangedFile(ctx, { ...file, mime: SYNC_MEDIA_TYPE });
    return RESPONDED;
  }));

  router.get('/api/service/sync/v1/status', device(async () => {
    const devices = await deps.status.list();
    return { devices: devices.map(statusJson) };
  }));

  return router;
}
