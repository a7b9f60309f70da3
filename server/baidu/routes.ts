// The Baidu dialect's paths. Three families lead to the same handlers:
//   /face-api/v3/...       private deployment (spec), ?appid= picks the library
//   /api/face-api/v3/...   the same on a single machine (spec: 加上/api的前缀)
//   /rest/2.0/face/v3/...  Baidu cloud, ?access_token= from /oauth/2.0/token
// Private paths take the admin key like the other dialects (or nothing under
// AUTH=off); cloud paths take an access token, whose credential names the
// appid. Routing is by path only: the Host header stays Baidu's.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import { DEFAULT_LIBRARY, type LibraryId } from '../core/ids.js';
import type { Authenticator } from '../http/auth.js';
import { readRawBody } from '../http/body.js';
import type { AccessTokens } from './access-tokens.js';
import { illegal, isId } from './args.js';
import { isObject, queryArgs, readBaiduBody, type BaiduCall, type BaiduHandler } from './call.js';
import { sendBaiduError, sendBaiduResult, sendBaiduUnsupported } from './envelope.js';

export interface BaiduRouteDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  tokens: AccessTokens;
  /** Handlers by operation name (library-ops.ts, vision-ops.ts). */
  ops: Record<string, BaiduHandler>;
}

/** Private path (after the prefix) -> operation. */
const PRIVATE_V3: Record<string, string> = {
  'face/detect': 'detect',
  'face/match': 'match',
  'face/identify': 'identify',
  'face/midentify': 'midentify',
  'face/liveness': 'liveness',
  'face/add': 'faceAdd',
  'face/update': 'faceUpdate',
  'face/list': 'faceList',
  'face/delete': 'faceDelete',
  'user/copy': 'userCopy',
  'user/get': 'userGet',
  'user/list': 'userList',
  'user/delete': 'userDelete',
  'group/add': 'groupAdd',
  'group/delete': 'groupDelete',
  'group/list': 'groupList',
  'app/list': 'appList',
};
const PRIVATE_FACEHUB: Record<string, string> = { statapp: 'statApp', statgroup: 'statGroup' };
const PRIVATE_PREFIXES = ['/face-api', '/api/face-api'];

/** Cloud path (after /rest/2.0/face/v3/) -> operation. */
const CLOUD_V3: Record<string, string> = {
  detect: 'detect',
  match: 'match',
  search: 'identify',
  'multi-search': 'midentify',
  faceverify: 'faceverify',
  'faceset/user/add': 'faceAdd',
  'faceset/user/update': 'faceUpdate',
  'faceset/face/delete': 'faceDelete',
  'faceset/user/get': 'userGet',
  'faceset/face/getlist': 'faceList',
  'faceset/group/getusers': 'userList',
  'faceset/user/copy': 'userCopy',
  'faceset/user/delete': 'userDelete',
  'faceset/group/add': 'groupAdd',
  'faceset/group/delete': 'groupDelete',
  'faceset/group/getlist': 'groupList',
};
const CLOUD_PREFIX = '/rest/2.0/face/v3';

/** Baidu's answers for a missing, unknown or expired access token. */
const TOKEN_ERRORS = {
  missing: { baiduCode: 100, baiduMessage: 'Invalid parameter' },
  invalid: { baiduCode: 110, baiduMessage: 'Access token invalid or no longer valid' },
  expired: { baiduCode: 111, baiduMessage: 'Access token expired' },
} as const;

export function baiduRouter(deps: BaiduRouteDeps): Router {
  const router = new Router();

  /** The library of a private call: ?appid=, default when absent. */
  const privateLibrary = (ctx: Context): LibraryId => {
    if (!deps.auth.allows(ctx.req.headers, 'admin')) throw new FaceError(ErrorCode.Unauthorized, 'missing or wrong access key');
    const appid = ctx.query.appid;
    if (appid === undefined || appid === '') return DEFAULT_LIBRARY;
    if (typeof appid !== 'string' || !isId(appid)) throw illegal('appid');
    return appid as LibraryId;
  };

  /** The library of a cloud call: its token's appid (the admin key, or AUTH=off, opens ?appid= / default too). */
  const cloudLibrary = (ctx: Context): LibraryId => {
    const token = ctx.query.access_token;
    if (token === undefined && deps.auth.allows(ctx.req.headers, 'admin')) return privateLibrary(ctx);
    const check = deps.tokens.check(Array.isArray(token) ? token[0] : token);
    if (!check.ok) throw new FaceError(ErrorCode.Unauthorized, `access token ${check.reason}`, TOKEN_ERRORS[check.reason]);
    return check.library;
  };

  const route = (handler: BaiduHandler, cloud: boolean) => async (ctx: Context, _next: Next): Promise<void> => {
    try {
      const library = cloud ? cloudLibrary(ctx) : privateLibrary(ctx);
      const body = await readBaiduBody(ctx.req, deps.config.maxRequestBytes);
      const query = queryArgs(ctx.query as Record<string, unknown>);
      const call: BaiduCall = { library, body, cloud, args: isObject(body) ? { ...query, ...body } : query };
      sendBaiduResult(ctx, await handler(call));
    } catch (err) {
      sendBaiduError(ctx, err, deps.logger);
    }
  };

  const mount = (path: string, operation: string, cloud: boolean) => {
    const handler = deps.ops[operation];
    if (!handler) return; // not built (yet): the fallback answers "Unsupported openapi method"
    router.post(path, route(handler, cloud));
    // Baidu's document gives group/getusers as GET; the SDKs POST. Both work everywhere.
    router.get(path, route(handler, cloud));
  };
  for (const prefix of PRIVATE_PREFIXES) {
    for (const [path, operation] of Object.entries(PRIVATE_V3)) mount(`${prefix}/v3/${path}`, operation, false);
    for (const [path, operation] of Object.entries(PRIVATE_FACEHUB)) mount(`${prefix}/facehub/${path}`, operation, false);
  }
  for (const [path, operation] of Object.entries(CLOUD_V3)) mount(`${CLOUD_PREFIX}/${path}`, operation, true);

  // OAuth token (client_credentials): parameters in the query or a form (or JSON) body.
  const token = async (ctx: Context) => {
    let params: Record<string, unknown> = { ...(ctx.query as Record<string, unknown>) };
    try {
      const text = (await readRawBody(ctx.req, 64 * 1024)).toString('utf8').trim();
      if (text.startsWith('{')) params = { ...params, ...(JSON.parse(text) as Record<string, unknown>) };
      else if (text !== '') params = { ...params, ...Object.fromEntries(new URLSearchParams(text)) };
    } catch {
      // An unreadable body gives no parameters: the answer below says which is wrong.
    }
    const grant = deps.tokens.grant(params);
    ctx.status = grant.ok ? 200 : grant.status;
    ctx.body = grant.body;
  };
  router.post('/oauth/2.0/token', token);
  router.get('/oauth/2.0/token', token);
  return router;
}

/** Unknown paths under the Baidu prefixes get Baidu's own answer (error_code 3) rather than FacePass's 404. */
export function baiduFallback() {
  return async (ctx: Context, next: Next): Promise<void> => {
    const path = ctx.path;
    if (path.startsWith('/face-api/') || path.startsWith('/api/face-api/') || path.startsWith('/rest/2.0/')) {
      sendBaiduUnsupported(ctx);
      return;
    }
    await next();
  };
}
