// The SID vendor API's paths (spec 人脸厂商标准接口): POST with a JSON body
// that carries app_id and app_secret, checked before anything else is done.
// Every answer is HTTP 200 with `{info, result, ...}`: info "success" and
// result 0, or info "<operation>错误,错误信息[<message>]" and a result number
// from errors.ts (the spec's 20010009 for a record not found).
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isFaceError } from '../core/errors.js';
import { readJsonObject } from '../http/body.js';
import type { SidCredentials } from './credentials.js';
import { INTERNAL_ERROR, SID_RESULT, toSidError, type SidError } from './errors.js';
import type { SidHandler, sidOps } from './ops.js';

export interface SidRouteDeps {
  maxRequestBytes: number;
  logger: Logger;
  credentials: SidCredentials;
  ops: ReturnType<typeof sidOps>;
}

/** Path -> operation, and the operation's name in error messages (the spec's own: 查询人脸错误). */
const PATHS: ReadonlyArray<readonly [path: string, op: keyof ReturnType<typeof sidOps>, label: string]> = [
  ['/staticdb/search/compare', 'compare', '人脸比对'],
  ['/staticdb/search/multiple', 'multiple', '人脸搜索'],
  ['/liveness/action', 'liveness', '活体检测'],
  ['/staticdb/search/feature', 'feature', '照片分析'],
  ['/face/get', 'get', '查询人脸'],
  ['/face/remove', 'remove', '删除人脸'],
  ['/face/updatefeature', 'update', '修改人脸'],
  ['/face/add', 'add', '添加人脸'],
];

export function sidRouter(deps: SidRouteDeps): Router {
  const router = new Router();
  const route = (handler: SidHandler, label: string) => async (ctx: Context): Promise<void> => {
    ctx.status = 200;
    try {
      const args = await readJsonObject(ctx.req, deps.maxRequestBytes);
      const library = deps.credentials.library(args.app_id, args.app_secret);
      // A handler's own `info` (liveness: the time taken) replaces "success".
      ctx.body = { info: 'success', result: 0, ...(await handler({ library, args })) };
    } catch (err) {
      let mapped: SidError;
      if (isFaceError(err)) {
        mapped = toSidError(err);
        if (mapped === INTERNAL_ERROR) deps.logger.error({ err, path: ctx.path }, 'request failed');
      } else {
        deps.logger.error({ err, path: ctx.path }, 'unexpected error');
        mapped = INTERNAL_ERROR;
      }
      ctx.body = { info: `${label}错误,错误信息[${mapped.message}]`, result: mapped.result };
    }
  };
  for (const [path, op, label] of PATHS) {
    router.post(path, route(deps.ops[op], label));
    // Another method: 405 with Allow, the answer still in the SID format.
    router.all(path, (ctx) => {
      ctx.status = 405;
      ctx.set('Allow', 'POST');
      ctx.body = { info: `${label}错误,错误信息[method ${ctx.method} not allowed, use POST]`, result: SID_RESULT.illegalParameter };
    });
  }
  return router;
}
