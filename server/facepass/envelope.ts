// The FacePass envelope: {code, message, timestamp, timecost, data}, with
// `data` always an object ({} when empty, never null), `timestamp` the time
// the request arrived (ms) and `timecost` its duration (ms).
import { Readable } from 'node:stream';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { ErrorCode, FaceError, isFaceError } from '../core/errors.js';
import { INTERNAL_ERROR, toFacePassError } from './errors.js';
import type { Audience, Authenticator } from '../http/auth.js';

export interface FacePassState {
  /** Set by the app's first middleware. */
  receivedAt: number;
}

/** A handler that wrote the whole response itself (status, headers, body) returns this. */
export const RESPONDED = Object.freeze({ responded: true });

/** A handler's success: the `data` object, a file to send as is, a binary stream, or RESPONDED. */
export type FacePassResult =
  | Record<string, unknown>
  | { file: Uint8Array; mime: string }
  | { stream: Readable; mime: string }
  | typeof RESPONDED;

const isFile = (result: FacePassResult): result is { file: Uint8Array; mime: string } =>
  'file' in result && result.file instanceof Uint8Array && typeof result.mime === 'string';
const isStream = (result: FacePassResult): result is { stream: Readable; mime: string } =>
  'stream' in result && result.stream instanceof Readable && typeof result.mime === 'string';

function envelope(ctx: Context, code: number, message: string, data: Record<string, unknown>) {
  const receivedAt = (ctx.state as FacePassState).receivedAt ?? Date.now();
  return { code, message, timestamp: receivedAt, timecost: Date.now() - receivedAt, data };
}

/** What a failed face add still reports (spec cases B and C): image_id, and rect once a face was found. */
function errorData(err: FaceError): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (typeof err.details.imageId === 'string') data.image_id = err.details.imageId;
  if (err.details.rect) data.rect = err.details.rect;
  return data;
}

export function sendFacePassError(ctx: Context, err: unknown, logger: Logger): void {
  if (isFaceError(err)) {
    const mapped = toFacePassError(err);
    ctx.status = mapped.status;
    ctx.body = envelope(ctx, mapped.code, mapped.message, errorData(err));
    // Busy and abandoned requests are the server protecting itself, not faults.
    if (err.code === ErrorCode.Busy) ctx.set('Retry-After', '1');
    else if (err.code === ErrorCode.Aborted) logger.info({ path: ctx.path, reason: err.message }, 'request abandoned');
    else if (mapped.status >= 500) logger.error({ err, path: ctx.path }, 'request failed');
    return;
  }
  logger.error({ err, path: ctx.path }, 'unexpected error');
  ctx.status = INTERNAL_ERROR.status;
  ctx.body = envelope(ctx, INTERNAL_ERROR.code, INTERNAL_ERROR.message, {});
}

/**
 * Wraps a FacePass handler: checks access for the audience, runs it, and
 * writes the envelope (or the file) or the mapped error.
 */
export function facepassRoute(
  auth: Authenticator,
  audience: Audience,
  logger: Logger,
  handler: (ctx: Context) => Promise<FacePassResult>,
) {
  return async (ctx: Context, _next: Next): Promise<void> => {
    try {
      if (!auth.allows(ctx.req.headers, audience, ctx.method)) {
        ctx.set('WWW-Authenticate', 'Bearer');
        throw new FaceError(ErrorCode.Unauthorized, 'missing or wrong access key');
      }
      const result = await handler(ctx);
      if (result === RESPONDED) return;
      if (isStream(result)) {
        ctx.status = 200;
        ctx.type = result.mime;
        ctx.body = result.stream;
        return;
      }
      if (isFile(result)) {
        ctx.status = 200;
        ctx.type = result.mime;
        // A kept upload is served as what its bytes claim to be, never sniffed into something a browser runs.
        ctx.set('X-Content-Type-Options', 'nosniff');
        ctx.body = Buffer.from(result.file.buffer, result.file.byteOffset, result.file.byteLength);
        return;
      }
      ctx.status = 200;
      ctx.body = envelope(ctx, 0, '', result);
    } catch (err) {
      sendFacePassError(ctx, err, logger);
    }
  };
}

/** Longest path echoed in an error message: a 6,000-character path is not worth sending back whole. */
export const MAX_ECHOED_PATH = 200;

const echoedPath = (path: string) => (path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}...` : path);

/** Unknown paths: HTTP 404 (spec 接口不存在), still in the envelope so clients can parse it. */
export function facepassNotFound(ctx: Context): void {
  ctx.status = 404;
  ctx.body = envelope(ctx, 404, `API_NOT_FOUND: ${ctx.method} ${echoedPath(ctx.path)}`, {});
}

/**
 * A known path asked with a method it does not serve (OPTIONS, TRACE and
 * WebDAV verbs included): HTTP 405 with `Allow`, in the envelope. The spec
 * has no code for it; like 401 and 404, the code repeats the HTTP status.
 */
export function facepassMethodNotAllowed(ctx: Context, allowed: readonly string[]): void {
  ctx.status = 405;
  ctx.set('Allow', allowed.join(', '));
  ctx.body = envelope(ctx, 405, `METHOD_NOT_ALLOWED: ${ctx.method} ${echoedPath(ctx.path)} (allowed: ${allowed.join(', ')})`, {});
}
