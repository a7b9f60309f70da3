// The read endpoints the web console needs beyond the FacePass API, in the
// FacePass envelope and behind the same key check (admin key, or a console
// session). Each parses, calls the core, formats; none reads the store
// around the core. Documented in the README ("Console read API").
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { DEFAULT_LIBRARY, type GroupName, type LibraryId } from '../core/ids.js';
import type { UserDirectory } from '../core/user-directory.js';
import { illegalArgument } from '../core/errors.js';
import type { FaceInspector } from '../core/face-inspector.js';
import { MAX_PAGE, type GroupFaces } from '../core/group-faces.js';
import type { FaceLibrary } from '../core/face-library.js';
import type { TerminalOverview } from '../core/terminal-overview.js';
import type { Authenticator } from '../http/auth.js';
import type { AdmissionPolicy } from '../config.js';
import { faceToken, optionalArg, requiredArgs } from '../facepass/args.js';
import { facepassRoute, type FacePassResult } from '../facepass/envelope.js';

/** What the server page shows; gathered by the app, which owns these facts. */
export interface ServerFacts {
  version: string;
  models: Record<string, string>;
  startedAt: number;
  storeBytes: () => number;
  push: () => { connections: number; ready: number };
}

export interface ConsoleApiDeps {
  auth: Authenticator;
  /** Shown beside each quality measure on the face page. */
  admission: AdmissionPolicy;
  logger: Logger;
  library: FaceLibrary;
  groupFaces: GroupFaces;
  inspector: FaceInspector;
  terminals: TerminalOverview;
  users: UserDirectory;
  server: ServerFacts;
}

export const CONSOLE_API = '/api/console/v1';
/** The Baidu dialect's appid rule: letters, digits and underscore, at most 48. */
const LIBRARY = /^[A-Za-z0-9_]{1,48}$/;
const libraryArg = (value: unknown) => (typeof value === 'string' && LIBRARY.test(value) ? (value as LibraryId) : undefined);
/** `?library=` (a Baidu appid), default the FacePass library. */
const libraryOf = (q: Record<string, unknown>) => optionalArg(q, 'library', libraryArg) ?? DEFAULT_LIBRARY;
const offsetArg = (value: unknown) => {
  const n = typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 1e9 ? n : undefined;
};
/** Any dialect's group name: FacePass's 4-16 characters, Baidu's group_id up to 48. */
const anyGroupName = (value: unknown) => (typeof value === 'string' && LIBRARY.test(value) ? (value as GroupName) : undefined);
const USER_ID = /^[\x21-\x7e]{1,128}$/;
const userId = (value: unknown) => (typeof value === 'string' && USER_ID.test(value) ? value : undefined);
const pageSize = (value: unknown) => {
  const n = typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= MAX_PAGE ? n : undefined;
};

export function consoleApiRouter(deps: ConsoleApiDeps): Router {
  const router = new Router({ prefix: CONSOLE_API });
  const admin = (handler: (ctx: Context) => Promise<FacePassResult>) => facepassRoute(deps.auth, 'admin', deps.logger, handler);
  const query = (ctx: Context) => ctx.query as Record<string, unknown>;

  router.get('/libraries', admin(async () => ({ libraries: await deps.users.listLibraries() })));

  router.get('/groups', admin(async (ctx) => {
    const groups = await deps.library.listGroups(libraryOf(query(ctx)));
    return {
      groups: groups.map((g) => ({
        group_name: g.name,
        group_id: g.groupId,
        face_count: g.faceCount,
        version: g.version,
        created_at: g.createdAt,
        updated_at: g.updatedAt,
      })),
    };
  }));

  router.get('/group/faces', admin(async (ctx) => {
    const q = query(ctx);
    const { group_name } = requiredArgs(q, { group_name: anyGroupName });
    const limit = q.limit === undefined ? 60 : pageSize(q.limit);
    if (limit === undefined) throw illegalArgument('limit');
    const page = await deps.groupFaces.page(libraryOf(q), group_name, {
      limit,
      after: optionalArg(q, 'after', faceToken),
      userId: optionalArg(q, 'user_id', userId),
      faceToken: optionalArg(q, 'face_token', faceToken),
    });
    return {
      group_name: page.group.name,
      face_count: page.group.faceCount,
      version: page.group.version,
      faces: page.faces.map((b) => ({ face_token: b.faceToken, user_id: b.userId ?? null, user_info: b.userInfo ?? null, bound_at: b.boundAt })),
      next: page.next,
    };
  }));

  router.get('/group/users', admin(async (ctx) => {
    const q = query(ctx);
    const { group_name } = requiredArgs(q, { group_name: anyGroupName });
    const limit = q.limit === undefined ? 100 : pageSize(q.limit);
    if (limit === undefined) throw illegalArgument('limit');
    const offset = optionalArg(q, 'offset', offsetArg) ?? 0;
    const users = await deps.users.listUsers(libraryOf(q), group_name, { offset, limit });
    return { users: users.map((u) => ({ user_id: u.userId, user_info: u.userInfo, face_count: u.faceCount })), offset, limit };
  }));

  router.get('/face', admin(async (ctx) => {
    const { face_token } = requiredArgs(query(ctx), { face_token: faceToken });
    const detail = await deps.inspector.inspect(face_token);
    const { face } = detail;
    return {
      face_token: face.faceToken,
      image_id: face.imageId,
      rect: face.rect,
      image: detail.image,
      landmarks: detail.landmarks,
      quality: face.quality,
      admission: {
        min_face_size: deps.admission.minFaceSize,
        max_yaw: deps.admission.maxYaw,
        max_pitch: deps.admission.maxPitch,
        max_roll: deps.admission.maxRoll,
        max_blur: deps.admission.maxBlur,
        min_brightness: deps.admission.minBrightness,
        max_brightness: deps.admission.maxBrightness,
        max_brightness_std: deps.admission.maxBrightnessStd,
      },
      model_version: face.modelVersion,
      created_at: face.createdAt,
      deleted_at: face.deletedAt,
      groups: detail.groups.map((g) => ({ library: g.library, group_name: g.groupName, bound_at: g.boundAt, user_id: g.userId ?? null, user_info: g.userInfo ?? null })),
    };
  }));

  router.get('/terminals', admin(async () => {
    const terminals = await deps.terminals.list();
    return {
      terminals: terminals.map((t) => ({
        device: t.device,
        device_id: t.deviceId,
        ip: t.ip,
        client_version: t.clientVersion,
        last_sync: t.lastSync,
        search_model: t.searchModel,
        feature_encoding: t.featureEncoding,
        bytes: t.bytes,
        connected: t.connected,
        stale: t.stale,
        groups: t.groups.map((g) => ({
          group_name: g.groupName,
          device_version: g.deviceVersion,
          server_version: g.serverVersion,
          lag: g.lag,
          result_code: g.resultCode,
          faces_added: g.facesAdded,
          faces_deleted: g.facesDeleted,
        })),
      })),
    };
  }));

  router.get('/server', admin(async () => {
    const libraries = await deps.users.listLibraries();
    const groups = (await Promise.all(libraries.map((id) => deps.library.listGroups(id)))).flat();
    const push = deps.server.push();
    const terminals = await deps.terminals.list();
    return {
      version: deps.server.version,
      models: deps.server.models,
      started_at: deps.server.startedAt,
      uptime_s: Math.round((Date.now() - deps.server.startedAt) / 1000),
      store_bytes: deps.server.storeBytes(),
      libraries: libraries.length,
      groups: groups.length,
      bindings: groups.reduce((sum, g) => sum + g.faceCount, 0),
      terminals: terminals.length,
      push_connections: push.connections,
      push_ready: push.ready,
    };
  }));

  return router;
}
