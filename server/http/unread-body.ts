// A request refused before its body was read (over the size limit, bad
// key, malformed multipart) still has bytes in flight. Closing the socket
// with them unread makes the kernel answer with a reset, and a client that
// reads only after sending loses the 413/400 it was sent. So the answer is
// written first, and then the rest of the body is read and thrown away,
// bounded in bytes and time; past either bound the socket is closed (the
// answer went out long before).
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';

export interface DiscardBounds {
  /** Most bytes read and discarded after a refusal. */
  maxBytes: number;
  /** Longest time spent discarding, ms. */
  maxMs: number;
}

export const DISCARD_DEFAULTS: DiscardBounds = { maxBytes: 64 * 1024 * 1024, maxMs: 30_000 };

/** Koa middleware: after an error answer is written, drains what is left of the request body. */
export function discardUnreadBody(bounds: DiscardBounds = DISCARD_DEFAULTS) {
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    const req = ctx.req;
    if (req.complete || ctx.status < 400) return;
    ctx.res.once('finish', () => discard(req, bounds));
  };
}

function discard(req: IncomingMessage, bounds: DiscardBounds): void {
  if (req.complete || req.destroyed) return;
  let seen = 0;
  const giveUp = () => req.socket?.destroy();
  const timer = setTimeout(giveUp, bounds.maxMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > bounds.maxBytes) giveUp();
  });
  req.once('end', done);
  req.once('close', done);
  req.once('error', done);
  req.resume();
}
