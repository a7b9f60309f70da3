// The push channel (protocol §12): terminals keep a WebSocket open on
// PUSH_PATH and are told when a group they hold changes, so they know when
// to pull a sync. The hub never sends faces.
//
//   upgrade   auth and path are checked on the raw HTTP request; a refused
//             peer gets a plain HTTP response and never reaches `ws`.
//   hello     ClientHello -> version negotiation -> ServerHello with the
//             current id/version of every named group.
//   commits   store.onCommit -> GroupIndex (connections by group name) ->
//             NoticeBatcher (first change at once, then one per window) -> VersionNotice.
//   liveness  one hub-wide ping sweep (Heartbeat) and one hello-deadline
//             queue; no timer per connection.
//
// Everything a terminal sends is untrusted: size-limited by `ws` before it is
// buffered, decoded inside try/catch, and any failure closes only that
// connection with the code that names it.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  checkClientHello,
  CloseCode,
  closeCodeFor,
  decodePushFrame,
  DEFAULT_PROTOCOL_VERSION,
  DEVICE_ID_HEADER,
  isSyncError,
  MAX_PUSH_FRAME_BYTES,
  negotiateProtocolVersion,
  PushFrameType,
  PUSH_PATH,
  SyncError,
  SyncErrorCode,
  type ClientHello,
  type GroupVersion,
} from '../../device-protocol/index.js';
import type { Authenticator } from '../http/auth.js';
import { DEFAULT_LIBRARY, type GroupName } from '../core/ids.js';
import type { CommittedChange, FaceStore } from '../../storage/store.js';
import { NoticeBatcher, type PendingNotice } from './batcher.js';
import { PushConnection } from './connection.js';
import { DeadlineQueue } from './deadlines.js';
import { GroupIndex } from './group-index.js';
import { Heartbeat } from './heartbeat.js';
import { newCounters, type NoticeFlushEvent, type NoticeSentEvent, type PushCounters, type PushHubEvents, type PushHubStats } from './metrics.js';
import { resolvePushOptions, type PushHubOptions } from './options.js';
import { rejectUpgrade } from './reject-upgrade.js';
import { frameBinary } from './wire-frame.js';
import { answerOversizeWith4413 } from './oversize.js';

export type PushLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface PushHubDeps {
  auth: Pick<Authenticator, 'allows' | 'identify' | 'mayActAs'>;
  store: Pick<FaceStore, 'onCommit' | 'getGroup'>;
  /** The served features' model, announced in ServerHello (read per hello: a model upgrade's switch changes it). */
  readonly searchModel: string;
  logger: PushLogger;
}

/** How often a flush retries members it had to skip (hello not out yet, socket backed up), ms. */
const MIN_RETRY_MS = 20;

export class PushHub {
  readonly options: Readonly<PushHubOptions>;
  readonly #deps: PushHubDeps;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<PushConnection>();
  readonly #index = new GroupIndex<PushConnection>();
  readonly #byDevice = new Map<string, PushConnection>();
  readonly #batcher: NoticeBatcher<PushConnection>;
  readonly #helloDeadlines: DeadlineQueue<PushConnection>;
  readonly #heartbeat: Heartbeat;
  readonly #counters: PushCounters = newCounters();
  readonly #noticeListeners = new Set<(event: NoticeSentEvent) => void>();
  readonly #flushListeners = new Set<(event: NoticeFlushEvent) => void>();
  /**
   * Each notice payload the batcher encoded, framed once (wire-frame.ts): the
   * batcher hands the same payload object to every member of a flush with the
   * same one-group notice, so 1,000 terminals cost one framing. Weak: a
   * payload lives only as long as the batcher's flush keeps it.
   */
  readonly #framed = new WeakMap<Uint8Array, Buffer>();
  readonly #unsubscribe: () => void;
  #ready = 0;
  #closing: Promise<void> | null = null;

  constructor(deps: PushHubDeps, options: Partial<PushHubOptions> = {}) {
    this.#deps = deps;
    this.options = Object.freeze(resolvePushOptions(options));
    this.#wss = new WebSocketServer({
      noServer: true,
      // Notices are a few dozen bytes: compression would cost memory per
      // connection (zlib contexts) and CPU for nothing. Also what makes
      // PushConnection.sendFramed safe: without it ws never queues a frame.
      perMessageDeflate: false,
      // Checked by ws from the frame header, before buffering; its 1009 close
      // becomes PushError + 4413 (oversize.ts).
      maxPayload: MAX_PUSH_FRAME_BYTES,
      // The hub tracks its connections itself (with their state).
      clientTracking: false,
    });
    this.#batcher = new NoticeBatcher<PushConnection>(
      {
        readiness: (conn) => this.#readiness(conn),
        send: (conn, frame, notice, groups) => this.#sendNotice(conn, frame, notice, groups),
        fail: (conn, err) => this.#fail(conn, err),
        flushed: (notices, firstObservedAt, startedAt, endedAt) => this.#flushed(notices, firstObservedAt, startedAt, endedAt),
      },
      this.options.coalesceMs,
      Math.max(this.options.coalesceMs, MIN_RETRY_MS),
    );
    this.#helloDeadlines = new DeadlineQueue<PushConnection>(this.options.helloTimeoutMs, (conn) => {
      if (conn.state !== 'awaiting-hello') return;
      this.#counters.helloTimeouts++;
      conn.fail(CloseCode.BadFrame, 'no ClientHello in time');
    });
    this.#heartbeat = new Heartbeat(
      this.options.heartbeatMs,
      () => this.#connections,
      () => this.#counters.heartbeatTimeouts++,
    );
    this.#heartbeat.start();
    this.#unsubscribe = deps.store.onCommit((change) => this.#onCommit(change));
  }

  /** For `httpServer.on('upgrade')`: takes over every upgrade request. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    try {
      const status = this.#refusal(req);
      if (status !== 0) {
        this.#counters.rejected++;
        rejectUpgrade(socket, status, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req, socket));
    } catch (err) {
      this.#deps.logger.error({ err }, 'push: upgrade failed');
      socket.destroy();
    }
  }

  /** Closes the device's connection (4401) when its key was revoked. */
  disconnectDevice(deviceId: string): void {
    this.#byDevice.get(deviceId)?.fail(CloseCode.Unauthorized, 'device key revoked');
  }

  /**
   * Closes every connection with 1001 (GoingAway) and keeps accepting: each
   * terminal reconnects after its back-off and syncs (PROTOCOL.md §12). What
   * a model upgrade's switch does, so terminals fetch the new features
   * (RESET) without waiting for their next change. Returns how many.
   */
  reconnectAll(reason: string): number {
    let n = 0;
    for (const conn of [...this.#connections]) {
      if (conn.state === 'closed') continue;
      conn.close(CloseCode.GoingAway, reason);
      n++;
    }
    return n;
  }

  /** Subscribes to hub events; returns the unsubscribe function. */
  on<K extends keyof PushHubEvents>(type: K, listener: (event: PushHubEvents[K]) => void): () => void {
    const listeners = (type === 'notice-sent' ? this.#noticeListeners : type === 'flush' ? this.#flushListeners : undefined) as
      | Set<(event: PushHubEvents[K]) => void>
      | undefined;
    if (listeners === undefined) throw new TypeError(`unknown push hub event ${String(type)}`);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }

  stats(): PushHubStats {
    return {
      ...this.#counters,
      connections: this.#connections.size,
      ready: this.#ready,
      watchedGroups: this.#index.size,
      pendingNotices: this.#batcher.size,
    };
  }

  /** Device ids (ClientHello device_id, else the address) connected past their hello now: the console's terminal page. */
  connectedDevices(): Set<string> {
    const ids = new Set<string>();
    for (const conn of this.#connections) if (conn.state === 'ready') ids.add(conn.deviceId);
    return ids;
  }

  /** Runs one heartbeat sweep now (tests, tools). */
  sweepHeartbeat(): void {
    this.#heartbeat.sweep();
  }

  /**
   * Stops the timers, unsubscribes from the store, and closes every
   * connection with 1001 (GoingAway); sockets that do not finish the closing
   * handshake within closeGraceMs are terminated. Resolves when all are closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#heartbeat.stop();
    this.#helloDeadlines.clear();
    this.#unsubscribe();
    this.#batcher.close();
    const closed = [...this.#connections].map(
      (conn) =>
        new Promise<void>((resolve) => {
          if (conn.state === 'closed') return resolve();
          conn.ws.once('close', () => resolve());
          conn.close(CloseCode.GoingAway, 'server shutting down');
        }),
    );
    const grace = setTimeout(() => {
      for (const conn of this.#connections) conn.terminate();
    }, this.options.closeGraceMs);
    await Promise.all(closed);
    clearTimeout(grace);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  // --- connections ------------------------------------------------------------

  /** 0 to accept, else the HTTP status to refuse with. */
  #refusal(req: IncomingMessage): number {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return 400;
    }
    if (path !== PUSH_PATH) return 404;
    if (this.#closing) return 503;
    if (!this.#deps.auth.allows(req.headers, 'device')) return 401;
    // A per-terminal key may name only its own device; the shared key no device that has its own key.
    const header = req.headers[DEVICE_ID_HEADER.toLowerCase()];
    const principal = this.#deps.auth.identify(req.headers);
    if (typeof header === 'string' && header !== '' && principal && !this.#deps.auth.mayActAs(principal, header)) return 403;
    if (this.#connections.size >= this.options.maxConnections) return 503;
    return 0;
  }

  #accept(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    const header = req.headers[DEVICE_ID_HEADER.toLowerCase()];
    const headerDeviceId = typeof header === 'string' && header.length > 0 ? header : undefined;
    const principal = this.#deps.auth.identify(req.headers) ?? { role: 'device', deviceId: null };
    const ownId = principal.role === 'device' ? principal.deviceId : null;
    const conn = new PushConnection(ws, socket, headerDeviceId ?? ownId ?? undefined, req.socket.remoteAddress ?? 'unknown');
    conn.explicitDeviceId = headerDeviceId !== undefined || ownId !== null;
    conn.principal = principal;
    ws.binaryType = 'nodebuffer';
    answerOversizeWith4413(ws);
    ws.on('message', (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    // ws closes the socket itself after an error (4413 for oversized frames,
    // see oversize.ts; 1002 for protocol violations); without a listener the error would be
    // thrown as an uncaught 'error' event.
    ws.on('error', (err) => {
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#counters.badFrames++;
      this.#deps.logger.debug({ err, device: conn.deviceId }, 'push: socket error');
    });
    ws.on('close', () => this.#forget(conn));
    if (this.#closing) {
      // Handshake finished while the hub was shutting down.
      conn.close(CloseCode.GoingAway, 'server shutting down');
      return;
    }
    this.#connections.add(conn);
    this.#helloDeadlines.add(conn);
    this.#counters.accepted++;
  }

  #forget(conn: PushConnection): void {
    if (conn.state === 'ready') this.#ready--;
    conn.state = 'closed';
    this.#connections.delete(conn);
    this.#helloDeadlines.remove(conn);
    this.#batcher.drop(conn);
    for (const name of conn.groups) this.#index.remove(name, conn);
    if (this.#byDevice.get(conn.deviceId) === conn) this.#byDevice.delete(conn.deviceId);
  }

  #onMessage(conn: PushConnection, data: RawData, isBinary: boolean): void {
    try {
      if (conn.state === 'closed' || !conn.open) return;
      if (!isBinary) throw new SyncError(SyncErrorCode.BadFrame, 'push messages must be binary');
      const message = decodePushFrame(toBytes(data));
      if (message === null) return; // unknown ancillary type: ignored (§3)
      if (message.type !== PushFrameType.ClientHello) {
        throw new SyncError(SyncErrorCode.BadOrder, `frame type ${message.type} is not for the server`);
      }
      // §12: ClientHello is sent once; to change its groups a terminal reconnects.
      if (conn.state !== 'awaiting-hello') throw new SyncError(SyncErrorCode.BadOrder, 'second ClientHello');
      checkClientHello(message.hello); // the bounds of §15: 4400 before any lookup
      void this.#answerHello(conn, message.hello);
    } catch (err) {
      this.#fail(conn, err);
    }
  }

  async #answerHello(conn: PushConnection, hello: ClientHello): Promise<void> {
    try {
      conn.state = 'answering';
      this.#helloDeadlines.remove(conn);
      // §13: an absent protocol_version (decoded as 0) means 1.
      const protocolVersion = negotiateProtocolVersion(hello.protocolVersion || DEFAULT_PROTOCOL_VERSION);
      if (hello.deviceId.length > 0) {
        if (!this.#deps.auth.mayActAs(conn.principal, hello.deviceId)) {
          throw new SyncError(SyncErrorCode.Unauthorized, `this key may not act as device ${hello.deviceId.slice(0, 40)}`);
        }
        conn.deviceId = hello.deviceId;
        conn.explicitDeviceId = true;
      }
      this.#supersede(conn);
      const names = [...new Set(hello.groups.map((g) => g.groupName))];
      // Subscribe before reading the versions, so no commit can fall between
      // the read and the subscription; what the hello already reports is
      // dropped from the pending notice below.
      conn.groups = names;
      for (const name of names) this.#index.add(name, conn);
      const records = await Promise.all(names.map((name) => this.#deps.store.getGroup(DEFAULT_LIBRARY, name as GroupName)));
      if (conn.state !== 'answering') return; // closed while reading
      const groups: GroupVersion[] = names.map((groupName, i) => ({
        groupName,
        groupId: records[i]?.groupId ?? 0,
        version: records[i]?.version ?? 0,
      }));
      this.#batcher.discard(conn, reportedBy(groups));
      conn.sendMessage({
        type: PushFrameType.ServerHello,
        hello: { protocolVersion, searchModel: this.#deps.searchModel, serverTimeMs: Date.now(), groups },
      });
      conn.state = 'ready';
      this.#ready++;
      this.#batcher.schedule();
    } catch (err) {
      this.#fail(conn, err);
    }
  }

  /**
   * One connection per explicitly named device: a terminal that reconnects
   * before the server noticed its old connection died replaces it (4409).
   * A device known only by its address never supersedes: several terminals
   * may share one address behind NAT.
   */
  #supersede(conn: PushConnection): void {
    if (!conn.explicitDeviceId) return;
    const previous = this.#byDevice.get(conn.deviceId);
    this.#byDevice.set(conn.deviceId, conn);
    if (previous === undefined || previous === conn) return;
    this.#counters.superseded++;
    previous.fail(CloseCode.Superseded, 'replaced by a newer connection of this device');
  }

  /** Closes the connection with the code naming the failure (PushError first). */
  #fail(conn: PushConnection, err: unknown): void {
    try {
      const code = closeCodeFor(err);
      if (code === CloseCode.BadFrame || code === CloseCode.FrameTooLarge) this.#counters.badFrames++;
      if (isSyncError(err)) {
        this.#deps.logger.debug({ device: conn.deviceId, code, reason: err.message }, 'push: closing connection');
        conn.fail(code, err.message);
      } else {
        this.#deps.logger.error({ err, device: conn.deviceId }, 'push: internal error');
        conn.fail(code, 'internal error');
      }
    } catch (closeErr) {
      this.#deps.logger.error({ err: closeErr }, 'push: closing a failed connection');
      conn.terminate();
    }
  }

  // --- notices ----------------------------------------------------------------

  #onCommit({ group, change }: CommittedChange): void {
    try {
      this.#counters.commits++;
      if (group.library !== DEFAULT_LIBRARY) return;
      const members = this.#index.members(group.name);
      if (!members) return;
      const entry: GroupVersion = { groupName: group.name, groupId: group.groupId, version: change.version };
      const observedAt = performance.now();
      this.#batcher.addAll(members, entry, observedAt, change.at);
    } catch (err) {
      // Never throw into the store's commit path.
      this.#deps.logger.error({ err }, 'push: commit fan-out failed');
    }
  }

  #readiness(conn: PushConnection): 'now' | 'later' | 'gone' {
    if (conn.state === 'closed' || !conn.open) return 'gone';
    if (conn.state !== 'ready') return 'later';
    return conn.ws.bufferedAmount > this.options.maxBufferedBytes ? 'later' : 'now';
  }

  #sendNotice(conn: PushConnection, frame: Uint8Array, notice: PendingNotice, groups: readonly GroupVersion[]): void {
    let framed = this.#framed.get(frame);
    if (framed === undefined) this.#framed.set(frame, (framed = frameBinary(frame)));
    conn.sendFramed(framed);
    this.#counters.noticesSent++;
    this.#counters.noticeEntriesSent += groups.length;
    if (this.#noticeListeners.size === 0) return;
    const event: NoticeSentEvent = {
      deviceId: conn.deviceId,
      groups,
      changes: notice.changes,
      firstChangeAt: notice.firstChangeAt,
      firstObservedAt: notice.firstObservedAt,
      sentAt: performance.now(),
    };
    this.#emit(this.#noticeListeners, event);
  }

  #flushed(notices: number, firstObservedAt: number, startedAt: number, endedAt: number): void {
    if (this.#flushListeners.size > 0) this.#emit(this.#flushListeners, { notices, firstObservedAt, startedAt, endedAt });
  }

  #emit<E>(listeners: ReadonlySet<(event: E) => void>, event: E): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#deps.logger.warn({ err }, 'push: event listener failed');
      }
    }
  }
}

/** Whether a ServerHello reporting `groups` already told what a pending entry says (same incarnation, not newer). */
function reportedBy(groups: readonly GroupVersion[]): (entry: GroupVersion) => boolean {
  // Built at the first pending entry only: most hellos have none.
  let byName: Map<string, GroupVersion> | undefined;
  return (entry) => {
    byName ??= new Map(groups.map((g) => [g.groupName, g]));
    const g = byName.get(entry.groupName);
    return g !== undefined && g.groupId === entry.groupId && entry.version <= g.version;
  };
}

/** ws delivers Buffer (binaryType nodebuffer); the other shapes are handled for safety. */
function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
