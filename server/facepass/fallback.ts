// What no route answered, in the FacePass envelope: a path some router
// serves with other methods is 405 with `Allow`; any other path is 404.
// Replaces @koa/router's allowedMethods(), which answers OPTIONS with an
// empty 200 and unknown methods (TRACE, PROPFIND...) with 501, outside the
// envelope.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { facepassMethodNotAllowed, facepassNotFound } from './envelope.js';

export function facepassFallback(routers: readonly Router[]) {
  return async (ctx: Context): Promise<void> => {
    const allowed = new Set<string>();
    for (const router of routers) {
      for (const layer of router.match(ctx.path, ctx.method).path) {
        for (const method of layer.methods) allowed.add(method);
      }
    }
    if (allowed.size === 0) facepassNotFound(ctx);
    else facepassMethodNotAllowed(ctx, [...allowed].sort());
  };
}
