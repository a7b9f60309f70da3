// The slice of the Fetch API the terminal client uses. The global fetch of
// Node 20 fits it; tests and simulators inject their own.
import { isSyncError, syncError, SyncErrorCode, type SyncError } from './errors.js';

export interface HeadersLike {
  get(name: string): string | null;
}

export interface StreamReaderLike {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** A response body: a web ReadableStream, or any async iterable of chunks. */
export type BodyLike = AsyncIterable<Uint8Array> | { getReader(): StreamReaderLike };

export interface ResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: HeadersLike;
  readonly body: BodyLike | null;
  text(): Promise<string>;
}

export interface RequestInitLike {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export type FetchLike = (url: string, init: RequestInitLike) => Promise<ResponseLike>;

/**
 * Iterates a body's chunks. Leaving the loop early (break or throw) cancels
 * the body, which releases the connection.
 */
export async function* bodyChunks(body: BodyLike | null): AsyncGenerator<Uint8Array, void, undefined> {
  if (body === null) return;
  if (Symbol.asyncIterator in body) {
    yield* body;
    return;
  }
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      if (value) yield value;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

/** Releases a body that will not be read, without reading it. */
export async function discardBody(body: BodyLike | null): Promise<void> {
  if (body === null) return;
  try {
    const cancellable = body as { cancel?: () => Promise<void> };
    if (typeof cancellable.cancel === 'function') await cancellable.cancel();
    else if (Symbol.asyncIterator in body) await body[Symbol.asyncIterator]().return?.();
    else await body.getReader().cancel();
  } catch {
    // The body was broken anyway.
  }
}

/** Wraps anything fetch or a body read throws (that is not already a SyncError) as SYNC_ERR_NETWORK. */
export function networkError(err: unknown, what: string): SyncError {
  if (isSyncError(err)) return err;
  return syncError(SyncErrorCode.Network, `${what}: ${(err as Error)?.message ?? String(err)}`, {}, err);
}

/** The FacePass JSON error envelope's code/message, if the body is one. */
export async function httpError(res: ResponseLike, what: string): Promise<SyncError> {
  let body: unknown;
  try {
    const text = await res.text();
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const envelope = (body ?? {}) as { code?: unknown; message?: unknown };
  return syncError(SyncErrorCode.Http, `${what}: HTTP ${res.status}${envelope.message ? ` ${String(envelope.message)}` : ''}`, {
    status: res.status,
    apiCode: envelope.code,
    apiMessage: envelope.message,
  });
}
