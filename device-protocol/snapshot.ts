// Downloads a snapshot (a FULL copy of one group in sync stream format) and
// resumes a broken download with Range + If-Range instead of starting over.
//
// Resuming needs no copy of the raw bytes: the decoder has consumed them and
// carries the running CRC, so asking for the remainder from
// decoder.bytesReceived on and feeding it to the same decoder gives the same
// result as one unbroken download, trailer CRC check included. If the server
// answers 200 instead of 206 (the snapshot changed, so If-Range failed, or it
// ignores ranges) the download starts over with a fresh decoder.
import { SyncErrorCode, isSyncError, syncError } from './errors.js';
import { FrameType } from './constants.js';
import { SyncStreamDecoder } from './decoder.js';
import type { FaceRecord, GroupResult, SnapshotRef, StreamHeader } from './frames.js';
import { bodyChunks, discardBody, httpError, networkError, type FetchLike } from './http.js';

export interface SnapshotOptions {
  fetch: FetchLike;
  /** The URL a relative reference is resolved against: the sync request URL. */
  baseUrl: string;
  /** Sent with each request, but only to the origin of baseUrl (credentials never go elsewhere). */
  headers?: Record<string, string>;
  maxFrameBytes?: number;
  /** Requests in total, resumptions included (default 4). */
  attempts?: number;
  signal?: AbortSignal;
}

export interface SnapshotContent {
  header: StreamHeader;
  group: GroupResult;
  faces: FaceRecord[];
  /** Requests it took (1 when nothing broke). */
  requests: number;
  /** Body bytes received over all requests (more than the snapshot's size when a download started over). */
  bytesTransferred: number;
}

const DEFAULT_ATTEMPTS = 4;
/** Statuses worth another request; anything else (404: snapshot expired...) fails the sync at once. */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

interface Progress {
  decoder: SyncStreamDecoder;
  header?: StreamHeader;
  group?: GroupResult;
  faces: FaceRecord[];
}

/** `bytes N-M/T` -> N; null when absent or malformed. */
function contentRangeStart(value: string | null): number | null {
  const match = value ? /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(value.trim()) : null;
  return match ? Number(match[1]) : null;
}

export async function downloadSnapshot(ref: SnapshotRef, options: SnapshotOptions): Promise<SnapshotContent> {
  const url = new URL(ref.url, options.baseUrl);
  const sameOrigin = url.origin === new URL(options.baseUrl).origin;
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const fresh = (): Progress => ({ decoder: new SyncStreamDecoder({ maxFrameBytes: options.maxFrameBytes }), faces: [] });
  // If-Range needs a strong validator; with a weak or no ETag a break means starting over.
  const strong = (tag: string | null | undefined) => (tag && !tag.startsWith('W/') ? tag : null);
  let etag = strong(ref.etag);
  let progress = fresh();
  let lastError: unknown;
  let bytesTransferred = 0;

  for (let request = 1; request <= attempts; request++) {
    if (options.signal?.aborted) throw syncError(SyncErrorCode.Closed, 'snapshot download aborted');
    if (progress.decoder.bytesReceived > 0 && etag === null) progress = fresh();
    const offset = progress.decoder.bytesReceived;
    const headers: Record<string, string> = { ...(sameOrigin ? options.headers : {}) };
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      headers['If-Range'] = etag!;
    }
    let res;
    try {
      res = await options.fetch(url.href, { method: 'GET', headers, signal: options.signal });
    } catch (err) {
      lastError = networkError(err, 'snapshot request');
      continue;
    }
    const usable =
      res.status === 200 || (res.status === 206 && offset > 0 && contentRangeStart(res.headers.get('content-range')) === offset);
    if (!usable) {
      if (res.status === 206) {
        // A range we did not ask for cannot be spliced in: start over next time.
        await discardBody(res.body);
        progress = fresh();
        lastError = syncError(SyncErrorCode.Snapshot, 'server answered a different range');
        continue;
      }
      const err = await httpError(res, 'snapshot request');
      if (RETRYABLE_STATUS.has(res.status)) {
        lastError = err;
        continue;
      }
      throw syncError(SyncErrorCode.Snapshot, `snapshot ${url.href}: HTTP ${res.status}`, { status: res.status, url: url.href }, err);
    }
    if (res.status === 200) {
      if (offset > 0) progress = fresh();
      etag = strong(res.headers.get('etag')) ?? etag;
    }
    const resumed = res.status === 206;
    try {
      for await (const chunk of bodyChunks(res.body)) {
        bytesTransferred += chunk.length;
        for (const frame of progress.decoder.push(chunk)) {
          if (frame.type === FrameType.Header) progress.header = frame.header;
          else if (frame.type === FrameType.Faces) progress.faces.push(...frame.faces);
          else if (frame.type === FrameType.Group) {
            if (progress.group) throw syncError(SyncErrorCode.Inconsistent, 'a snapshot holds exactly one group');
            progress.group = frame.group;
          }
        }
      }
    } catch (err) {
      if (isSyncError(err) && err.code !== SyncErrorCode.Network) {
        // Corrupt data. After a resumption the two parts may simply not
        // belong together: start over once more; otherwise give up.
        if (!resumed) throw err;
        progress = fresh();
      }
      lastError = isSyncError(err) ? err : networkError(err, 'snapshot body');
      continue;
    }
    if (!progress.decoder.done) {
      lastError = syncError(SyncErrorCode.Truncated, 'snapshot body ended early', { bytes: progress.decoder.bytesReceived });
      continue;
    }
    const { header, group, faces, decoder } = progress;
    if (!group) throw syncError(SyncErrorCode.Inconsistent, 'snapshot holds no group');
    if (ref.byteLength > 0 && decoder.bytesReceived !== ref.byteLength) {
      throw syncError(SyncErrorCode.Inconsistent, `snapshot is ${decoder.bytesReceived} bytes, its reference says ${ref.byteLength}`);
    }
    return { header: header!, group, faces, requests: request, bytesTransferred };
  }
  throw syncError(SyncErrorCode.Snapshot, `snapshot ${url.href} incomplete after ${attempts} requests`, { url: url.href }, lastError);
}
