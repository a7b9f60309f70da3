// The Baidu envelope: {error_code, error_msg, log_id, timestamp, cached,
// result}. error_code 0 and error_msg "SUCCESS" on success; `result` null
// where the spec shows null (and on every error); log_id a random 13-digit
// number; timestamp the request's arrival in seconds; cached always 0.
// HTTP status is 200 whatever happened, as Baidu's servers do.
import { randomInt } from 'node:crypto';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isFaceError } from '../core/errors.js';
import { INTERNAL_ERROR, toBaiduError, UNSUPPORTED_METHOD, type BaiduError } from './errors.js';

export interface BaiduEnvelope {
  error_code: number;
  error_msg: string;
  log_id: number;
  timestamp: number;
  cached: 0;
  result: unknown;
}

/** 13 digits, as the spec says (bigint-sized, safe as a JSON number). */
export const newLogId = (): number => randomInt(1_000_000_000_000, 10_000_000_000_000);

function envelope(ctx: Context, code: number, message: string, result: unknown): BaiduEnvelope {
  const receivedAt = (ctx.state as { receivedAt?: number }).receivedAt ?? Date.now();
  return { error_code: code, error_msg: message, log_id: newLogId(), timestamp: Math.floor(receivedAt / 1000), cached: 0, result };
}

export function sendBaiduResult(ctx: Context, result: unknown): void {
  ctx.status = 200;
  ctx.body = envelope(ctx, 0, 'SUCCESS', result === undefined ? null : result);
}

export function sendBaiduError(ctx: Context, err: unknown, logger: Logger): void {
  let mapped: BaiduError;
  if (isFaceError(err)) {
    mapped = toBaiduError(err);
    if (mapped === INTERNAL_ERROR) logger.error({ err, path: ctx.path }, 'request failed');
  } else {
    logger.error({ err, path: ctx.path }, 'unexpected error');
    mapped = INTERNAL_ERROR;
  }
  ctx.status = 200;
  ctx.body = envelope(ctx, mapped.code, mapped.message, null);
}

/** A path under a Baidu prefix that this server does not serve. */
export function sendBaiduUnsupported(ctx: Context): void {
  ctx.status = 200;
  ctx.body = envelope(ctx, UNSUPPORTED_METHOD.code, UNSUPPORTED_METHOD.message, null);
}
