// The web console at /console: its page and assets, and its sessions
// (sign in with the admin key, sign out). Everything else the console does
// goes through the ordinary API, which admits a console session in place of
// the admin key (see session-check.ts).
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { Authenticator } from '../http/auth.js';
import { readJsonObject } from '../http/body.js';
import { isFaceError } from '../core/errors.js';
import type { ConsoleAssets } from './assets.js';
import { SESSION_COOKIE, type ConsoleSessionCheck } from './session-check.js';
import type { ConsoleSession, ConsoleSessions } from './sessions.js';

export interface ConsoleRouteDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  sessions: ConsoleSessions;
  check: ConsoleSessionCheck;
  assets: ConsoleAssets;
}

export const CONSOLE_PATH = '/console';

// Scripts, styles and connections only from this server; images also from
// blob: (previews of photos being dropped); no framing (clickjacking).
const CSP = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FacePass console</title>
<link rel="stylesheet" href="${CONSOLE_PATH}/assets/console.css">
<script type="module" src="${CONSOLE_PATH}/assets/console.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

function secure(ctx: Context): void {
  ctx.set('Content-Security-Policy', CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
}

/** Console session answers use the FacePass envelope's shape so the console parses one format. */
function answer(ctx: Context, status: number, code: number, message: string, data: Record<string, unknown> = {}): void {
  const receivedAt = (ctx.state as { receivedAt?: number }).receivedAt ?? Date.now();
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { code, message, timestamp: receivedAt, timecost: Date.now() - receivedAt, data };
}

const sessionData = (session: ConsoleSession) => ({ csrf_token: session.csrf, expires_at: session.expiresAt });

export function consoleRouter(deps: ConsoleRouteDeps): Router {
  const router = new Router();
  const setCookie = (ctx: Context, value: string, maxAgeS: number) =>
    ctx.set('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`);

  const page = (ctx: Context) => {
    secure(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = PAGE;
  };
  router.get(CONSOLE_PATH, page);
  router.get(`${CONSOLE_PATH}/`, page);

  router.get(`${CONSOLE_PATH}/assets/console.js`, async (ctx) => {
    const asset = await deps.assets.script();
    secure(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });
  router.get(`${CONSOLE_PATH}/assets/console.css`, async (ctx) => {
    const asset = await deps.assets.style();
    secure(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });

  // Who am I: the console asks on load, so a reload keeps its session (and learns its CSRF token).
  router.get(`${CONSOLE_PATH}/session`, (ctx) => {
    const session = deps.check.sessionOf(ctx.req.headers);
    if (!session) return answer(ctx, 401, 401, 'UNAUTHORIZED: not signed in or session expired');
    answer(ctx, 200, 0, '', sessionData(session));
  });

  router.post(`${CONSOLE_PATH}/session`, async (ctx) => {
    let key: unknown;
    try {
      key = (await readJsonObject(ctx.req, 4096)).key;
    } catch (err) {
      if (!isFaceError(err)) throw err;
      return answer(ctx, 400, 104000, 'ILLEGAL_JSON_BODY');
    }
    if (typeof key !== 'string' || key.length === 0) return answer(ctx, 400, 104002, 'MISSING_ARGUMENT: key');
    const role = deps.auth.roleOf(key);
    if (role === 'device') {
      deps.logger.warn({ ip: ctx.ip }, 'console: sign-in with the device key refused');
      return answer(ctx, 403, 403, 'FORBIDDEN: the device key cannot sign in to the console; use the admin key');
    }
    if (role !== 'admin') {
      deps.logger.warn({ ip: ctx.ip }, 'console: sign-in with a wrong key refused');
      return answer(ctx, 401, 401, 'UNAUTHORIZED: wrong key');
    }
    const session = deps.sessions.create();
    setCookie(ctx, session.id, Math.floor(deps.config.console.sessionTtlMs / 1000));
    answer(ctx, 200, 0, '', sessionData(session));
  });

  // Sign out: a write like any other, so it needs the CSRF token (no one can sign you out from another site).
  router.post(`${CONSOLE_PATH}/session/end`, (ctx) => {
    const session = deps.check.sessionOf(ctx.req.headers);
    if (!session || !deps.check.admits(ctx.req.headers, ctx.method)) return answer(ctx, 401, 401, 'UNAUTHORIZED');
    deps.sessions.end(session.id);
    setCookie(ctx, '', 0);
    answer(ctx, 200, 0, '');
  });

  return router;
}
