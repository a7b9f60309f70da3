// Sends an immutable file with a strong ETag and single-range support
// (RFC 9110 §13-14): `Range: bytes=N-` (or N-M, or -N) answers 206 with
// Content-Range; `If-Range` with another ETag, multiple ranges, or no Range
// answer the whole file with 200; a range past the end answers 416.
// `If-None-Match` with the ETag answers 304.
import { createReadStream } from 'node:fs';
import type { Context } from 'koa';
import parseRange from 'range-parser';

export interface RangedFile {
  path: string;
  byteLength: number;
  /** Strong, quoted. */
  etag: string;
  mime: string;
}

/** True when an If-None-Match header lists `etag` (or is "*"). Weak comparison, as RFC 9110 §13.1.2 asks. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}

export function sendRangedFile(ctx: Context, file: RangedFile): void {
  ctx.set('ETag', file.etag);
  ctx.set('Accept-Ranges', 'bytes');
  // Immutable for its URL: caches may keep it, but only for the one who asked.
  ctx.set('Cache-Control', 'private, max-age=3600, immutable');
  ctx.type = file.mime;

  const ifNoneMatch = ctx.get('if-none-match');
  if (ifNoneMatch && noneMatch(ifNoneMatch, file.etag)) {
    ctx.status = 304;
    return;
  }

  const rangeHeader = ctx.get('range');
  const ifRange = ctx.get('if-range');
  // If-Range needs a strong match; a date or another tag means "send it all".
  const rangeApplies = rangeHeader !== '' && (ifRange === '' || ifRange === file.etag);
  const ranges = rangeApplies ? parseRange(file.byteLength, rangeHeader, { combine: true }) : -2;
  if (ranges === -1) {
    ctx.status = 416;
    ctx.set('Content-Range', `bytes */${file.byteLength}`);
    ctx.body = '';
    return;
  }
  if (Array.isArray(ranges) && ranges.type === 'bytes' && ranges.length === 1) {
    const { start, end } = ranges[0]!;
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${start}-${end}/${file.byteLength}`);
    send(ctx, file.path, { start, end });
    return;
  }
  // No range, a malformed one (-2), several, or another unit: the whole file.
  ctx.status = 200;
  send(ctx, file.path, { start: 0, end: file.byteLength - 1 });
}

/** Body and length. A HEAD request gets the length only: Koa answers it without a body, and an unread stream would hold its file open. */
function send(ctx: Context, path: string, range: { start: number; end: number }): void {
  if (ctx.method !== 'HEAD') ctx.body = createReadStream(path, range);
  ctx.length = range.end - range.start + 1;
}
