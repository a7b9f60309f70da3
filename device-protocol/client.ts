// The reference terminal client: keeps a TerminalGallery in step with the
// server. Sync is always pulled by the terminal (POST /api/service/sync/v1);
// the push channel only says when to pull, as the spec recommends.
//
// - start() opens the push channel, sends ClientHello, and syncs after every
//   (re)connect (notices sent while disconnected are lost) and on every
//   notice naming a group whose version or id differs from the local copy.
// - At most one sync runs and at most one waits: triggers that arrive while
//   one is waiting join it, since it will see their change too.
// - Connection loss: reconnect after a jittered exponential backoff, reset
//   once the server's hello arrives. A failed sync is retried the same way.
// - close() stops everything: timers, the socket, and any running sync
//   (which then commits nothing).
import { Backoff, type BackoffOptions } from './backoff.js';
import { applySyncStream, type SyncReport } from './apply.js';
import { CloseCode, SLOW_RETRY_CLOSE_CODES } from './close-codes.js';
import {
  DEFAULT_FEATURE_ENCODING,
  DEVICE_ID_HEADER,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  PUSH_PATH,
  PushFrameType,
  SYNC_MEDIA_TYPE,
  SYNC_PATH,
  type FeatureEncoding,
} from './constants.js';
import { isSyncError, syncError, SyncErrorCode } from './errors.js';
import { Emitter } from './events.js';
import { TerminalGallery } from './gallery.js';
import { bodyChunks, discardBody, httpError, networkError, type FetchLike } from './http.js';
import { closeCodeFor, decodePushFrame, encodePushFrame, type GroupVersion, type ServerHello } from './push.js';
import { buildSyncRequest } from './request.js';

/** Handler property types compared bivariantly, so `ws` and browser WebSockets both fit. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** What the client needs of a WebSocket; `ws`'s WebSocket and the WHATWG one both fit. */
export interface WebSocketLike {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type CreateWebSocket = (url: string, init: { headers: Record<string, string> }) => WebSocketLike;

export interface TimerApi {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface TerminalClientOptions {
  /** Server root, e.g. "https://faces.example.com" (a path prefix is kept). */
  baseUrl: string;
  /** API key, sent as `Authorization: Bearer <key>`. */
  key: string;
  deviceId: string;
  /** Names of the groups to hold (added to `gallery` if missing). */
  groups: string[];
  /** Existing local state (e.g. restored from disk); default a new, empty gallery. */
  gallery?: TerminalGallery;
  /** Encoding to ask for (default float32). Changing it reloads everything. */
  featureEncoding?: FeatureEncoding;
  /** `info.version`: terminal software version (default "facepass-terminal-ts"). */
  clientVersion?: string;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Required by start(); this module does not import a WebSocket implementation. */
  createWebSocket?: CreateWebSocket;
  /** Reconnect and sync retry delays (defaults: 500 ms, 30 s, 0.5). */
  backoff?: BackoffOptions;
  /** Source of jitter, [0, 1) (default Math.random). */
  random?: () => number;
  /** Default: the global setTimeout/clearTimeout. */
  timers?: TimerApi;
  /** Clock for event timestamps (default Date.now). */
  now?: () => number;
  /** Requests per snapshot download, resumptions included (default 4). */
  snapshotAttempts?: number;
}

export type SyncTrigger = 'manual' | 'connect' | 'hello' | 'notification' | 'retry' | 'resync';

export interface TerminalClientEvents {
  synced: { report: SyncReport; trigger: SyncTrigger; startedAt: number; finishedAt: number };
  error: { error: Error; during: 'sync' | 'push' };
  notification: { groups: GroupVersion[]; stale: GroupVersion[]; receivedAt: number };
  connected: { hello: ServerHello; at: number };
  disconnected: { code: number; reason: string; retryInMs: number; at: number };
}

const DEFAULT_TIMERS: TimerApi = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class TerminalClient {
  readonly gallery: TerminalGallery;
  readonly #options: TerminalClientOptions;
  readonly #emitter = new Emitter<TerminalClientEvents>();
  readonly #fetch: FetchLike;
  readonly #timers: TimerApi;
  readonly #now: () => number;
  readonly #root: string;
  readonly #abort = new AbortController();
  readonly #pushBackoff: Backoff;
  readonly #syncBackoff: Backoff;
  #started = false;
  #closed = false;
  #ws: WebSocketLike | null = null;
  #reconnectTimer: unknown = null;
  #retryTimer: unknown = null;
  /** Settles when the running sync ends (never rejects); null when idle. */
  #inFlight: Promise<void> | null = null;
  /** The sync waiting for the running one; later triggers join it. */
  #queued: Promise<SyncReport> | null = null;

  constructor(options: TerminalClientOptions) {
    this.#options = options;
    this.#root = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#timers = options.timers ?? DEFAULT_TIMERS;
    this.#now = options.now ?? Date.now;
    this.#pushBackoff = new Backoff(options.backoff, options.random);
    this.#syncBackoff = new Backoff(options.backoff, options.random);
    this.gallery =
      options.gallery ?? new TerminalGallery({ featureEncoding: options.featureEncoding ?? DEFAULT_FEATURE_ENCODING });
    for (const name of options.groups) this.gallery.addGroup(name);
  }

  on<K extends keyof TerminalClientEvents>(type: K, listener: (event: TerminalClientEvents[K]) => void): () => void {
    return this.#emitter.on(type, listener);
  }

  /** One sync now (after the running one, if any). Rejects with a SyncError; the gallery is then unchanged. */
  syncOnce(): Promise<SyncReport> {
    return this.#requestSync('manual');
  }

  /** Connects the push channel and keeps the gallery in sync until close(). */
  start(): void {
    if (this.#closed) throw syncError(SyncErrorCode.Closed, 'client is closed');
    if (this.#started) return;
    if (!this.#options.createWebSocket) throw new TypeError('TerminalClient.start() needs options.createWebSocket');
    this.#started = true;
    this.#connect();
  }

  /** Stops timers, closes the socket, aborts a running sync and waits for it to settle. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#timers.clearTimeout(this.#reconnectTimer);
    this.#timers.clearTimeout(this.#retryTimer);
    this.#reconnectTimer = this.#retryTimer = null;
    const ws = this.#ws;
    this.#ws = null;
    try {
      ws?.close(CloseCode.Normal, 'client closed');
    } catch {
      // Closing a socket that is still connecting may throw in some implementations; it is gone either way.
    }
    await this.#inFlight;
    this.#emitter.clear();
  }

  // --- sync -----------------------------------------------------------------

  #requestSync(trigger: SyncTrigger): Promise<SyncReport> {
    if (this.#closed) return Promise.reject(syncError(SyncErrorCode.Closed, 'client is closed'));
    if (this.#queued) return this.#queued;
    if (!this.#inFlight) return this.#startSync(trigger);
    const queued = this.#inFlight.then(() => {
      this.#queued = null;
      return this.#startSync(trigger);
    });
    this.#queued = queued;
    return queued;
  }

  /** For background triggers: failures are reported through 'error' and retried. */
  #trigger(trigger: SyncTrigger): void {
    this.#requestSync(trigger).catch(() => undefined);
  }

  #startSync(trigger: SyncTrigger): Promise<SyncReport> {
    const run = this.#sync(trigger);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight = settled;
    // Registered before any queued sync's continuation, so it runs first.
    void settled.then(() => {
      if (this.#inFlight === settled) this.#inFlight = null;
    });
    return run;
  }

  async #sync(trigger: SyncTrigger): Promise<SyncReport> {
    if (this.#closed) throw syncError(SyncErrorCode.Closed, 'client is closed');
    const startedAt = this.#now();
    try {
      const report = await this.#fetchAndApply();
      this.#syncBackoff.reset();
      this.#timers.clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#emit('synced', { report, trigger, startedAt, finishedAt: this.#now() });
      // One immediate follow-up fetches the full copy of a mismatched group;
      // a mismatch in that one too waits for the next regular trigger (no loop).
      if (report.needsResync && trigger !== 'resync' && this.#started) this.#trigger('resync');
      return report;
    } catch (err) {
      if (this.#closed) throw syncError(SyncErrorCode.Closed, 'client closed during sync', {}, err);
      const error = err instanceof Error ? err : new Error(String(err));
      this.#emit('error', { error, during: 'sync' });
      if (this.#started && this.#retryTimer === null) {
        this.#retryTimer = this.#timers.setTimeout(() => {
          this.#retryTimer = null;
          this.#trigger('retry');
        }, this.#syncBackoff.next());
      }
      throw error;
    }
  }

  #headers(): Record<string, string> {
    return { Authorization: `Bearer ${this.#options.key}`, [DEVICE_ID_HEADER]: this.#options.deviceId };
  }

  async #fetchAndApply(): Promise<SyncReport> {
    const url = this.#root + SYNC_PATH;
    const body = buildSyncRequest(this.gallery, {
      clientVersion: this.#options.clientVersion ?? 'facepass-terminal-ts',
      featureEncoding: this.#options.featureEncoding ?? DEFAULT_FEATURE_ENCODING,
    });
    const signal = this.#abort.signal;
    let res;
    try {
      res = await this.#fetch(url, {
        method: 'POST',
        headers: { ...this.#headers(), 'Content-Type': 'application/json', Accept: SYNC_MEDIA_TYPE },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      throw networkError(err, 'sync request');
    }
    if (!res.ok) throw await httpError(res, 'sync');
    const type = res.headers.get('content-type') ?? '';
    if (!type.toLowerCase().startsWith(SYNC_MEDIA_TYPE)) {
      await discardBody(res.body);
      throw syncError(SyncErrorCode.Http, `sync: expected ${SYNC_MEDIA_TYPE}, got "${type}"`, { status: res.status, contentType: type });
    }
    return applySyncStream(this.gallery, bodyChunks(res.body), {
      fetch: this.#fetch,
      requestUrl: url,
      headers: this.#headers(),
      snapshotAttempts: this.#options.snapshotAttempts,
      signal,
    });
  }

  // --- push channel -----------------------------------------------------------

  #connect(): void {
    if (this.#closed) return;
    const url = (this.#root + PUSH_PATH).replace(/^http/, 'ws');
    let ws: WebSocketLike;
    try {
      ws = this.#options.createWebSocket!(url, { headers: this.#headers() });
    } catch (err) {
      this.#emit('error', { error: networkError(err, 'push connect'), during: 'push' });
      this.#scheduleReconnect(CloseCode.InternalError, 'connect failed');
      return;
    }
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    let hello: ServerHello | null = null;

    ws.onopen = () => {
      if (this.#ws !== ws) return;
      const groups = [...this.gallery.groups].map(([groupName, g]) => ({ groupName, groupId: g.groupId ?? 0, version: g.version }));
      try {
        ws.send(encodePushFrame({ type: PushFrameType.ClientHello, hello: { protocolVersion: PROTOCOL_VERSION_MAX, deviceId: this.#options.deviceId, groups } }));
      } catch (err) {
        this.#fail(ws, err);
        return;
      }
      this.#trigger('connect');
    };

    ws.onmessage = (event) => {
      if (this.#ws !== ws) return;
      try {
        const message = decodePushFrame(toBytes(event.data));
        if (message === null) return; // unknown ancillary type
        switch (message.type) {
          case PushFrameType.ServerHello: {
            if (hello) throw syncError(SyncErrorCode.BadOrder, 'second server hello');
            const v = message.hello.protocolVersion;
            if (v < PROTOCOL_VERSION_MIN || v > PROTOCOL_VERSION_MAX) {
              throw syncError(SyncErrorCode.ProtocolVersion, `server chose protocol version ${v}`, { version: v });
            }
            hello = message.hello;
            this.#pushBackoff.reset();
            this.#emit('connected', { hello, at: this.#now() });
            if (message.hello.groups.some((g) => this.#isStale(g))) this.#trigger('hello');
            return;
          }
          case PushFrameType.Notice: {
            if (!hello) throw syncError(SyncErrorCode.BadOrder, 'notice before the server hello');
            const stale = message.groups.filter((g) => this.#isStale(g));
            this.#emit('notification', { groups: message.groups, stale, receivedAt: this.#now() });
            if (stale.length > 0) this.#trigger('notification');
            return;
          }
          case PushFrameType.Error:
            // The close with the same code follows; report the reason now.
            this.#emit('error', {
              error: syncError(SyncErrorCode.Network, `server closes push channel: ${message.code} ${message.reason}`, {
                closeCode: message.code,
              }),
              during: 'push',
            });
            return;
          case PushFrameType.ClientHello:
            throw syncError(SyncErrorCode.BadOrder, 'client hello from the server');
        }
      } catch (err) {
        this.#fail(ws, err);
      }
    };

    ws.onerror = () => {
      // Always followed by onclose, which reports and reconnects.
    };

    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#scheduleReconnect(event.code, event.reason);
    };
  }

  /** A group the gallery holds whose server id or version differs from the local one. */
  #isStale(g: GroupVersion): boolean {
    const local = this.gallery.group(g.groupName);
    return local !== undefined && (local.version !== g.version || (local.groupId ?? 0) !== g.groupId);
  }

  /** Closes the socket with the code that names the failure; onclose then reconnects. */
  #fail(ws: WebSocketLike, err: unknown): void {
    const error = isSyncError(err) ? err : networkError(err, 'push channel');
    this.#emit('error', { error, during: 'push' });
    // Clients may only send 1000 or 3000-4999 (browsers throw otherwise).
    const code = closeCodeFor(err);
    try {
      ws.close(code >= 3000 ? code : CloseCode.Normal, error.message.slice(0, 120));
    } catch {
      // Already closing; onclose follows either way.
    }
  }

  #scheduleReconnect(code: number, reason: string): void {
    if (this.#closed) return;
    const retryInMs = SLOW_RETRY_CLOSE_CODES.has(code) ? this.#pushBackoff.slow() : this.#pushBackoff.next();
    this.#emit('disconnected', { code, reason, retryInMs, at: this.#now() });
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, retryInMs);
  }

  #emit<K extends keyof TerminalClientEvents>(type: K, event: TerminalClientEvents[K]): void {
    const errors = this.#emitter.emit(type, event);
    // A throwing listener is a bug in the caller; surface it without breaking the client.
    if (type !== 'error') {
      for (const err of errors) {
        this.#emitter.emit('error', { error: err instanceof Error ? err : new Error(String(err)), during: 'sync' });
      }
    }
  }
}

/** WebSocket message data as bytes: ArrayBuffer (binaryType 'arraybuffer') or a Buffer/typed array. */
function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw syncError(SyncErrorCode.BadFrame, 'push messages must be binary');
}
