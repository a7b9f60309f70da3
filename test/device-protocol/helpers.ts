// Test doubles for the device protocol: a tiny in-memory sync server that
// follows PROTOCOL.md's decision rules, a fake fetch, a fake WebSocket and
// fake timers. Not a test file itself (mocha only runs *.test.ts).
import {
  digestOf,
  parseSyncRequest,
  SYNC_MEDIA_TYPE,
  SyncKind,
  SyncStreamWriter,
  type FaceRecord,
  type FeatureEncoding,
  type GroupResult,
  type RequestInitLike,
  type ResponseLike,
  type TimerApi,
  type WebSocketLike,
} from '../../device-protocol/index.js';
import { decodePushFrame, encodePushFrame, type PushMessage } from '../../device-protocol/push.js';

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
export const concatBytes = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

export async function* chunksOf(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

/** Deterministic feature: a function of the token, L2-normalised. */
export function featureFor(token: string, dim = 8): Float32Array {
  const v = new Float32Array(dim);
  let seed = [...token].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  for (let i = 0; i < dim; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    v[i] = (seed / 2 ** 32) * 2 - 1;
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

export const face = (token: string, extra: Partial<FaceRecord> = {}, dim = 8): FaceRecord => ({
  faceToken: token,
  feature: featureFor(token, dim),
  ...extra,
});

interface ServerGroup {
  id: number;
  version: number;
  faces: Map<string, FaceRecord>;
  /** version -> change, for deltas; entries at or below `logFloor` are gone. */
  log: Array<{ version: number; op: 'bind' | 'unbind'; token: string }>;
  logFloor: number;
}

/**
 * A sync server in a few dozen lines, following PROTOCOL.md's decision
 * rules, so the client can be tested end to end without the real server.
 */
export class MiniSyncServer {
  readonly groups = new Map<string, ServerGroup>();
  searchModel = 'model-2';
  dim = 8;
  serverTimeMs = 1_700_000_000_000;
  nextId = 100;
  /** Groups with more faces than this are sent as snapshot references. */
  snapshotThreshold = Infinity;
  readonly snapshots = new Map<string, Uint8Array>();

  createGroup(name: string): ServerGroup {
    const previous = this.groups.get(name);
    const group: ServerGroup = { id: this.nextId++, version: (previous?.version ?? 0) + 1, faces: new Map(), log: [], logFloor: (previous?.version ?? 0) + 1 };
    this.groups.set(name, group);
    return group;
  }

  deleteGroup(name: string): void {
    this.groups.delete(name);
  }

  bind(name: string, f: FaceRecord): void {
    const g = this.groups.get(name)!;
    g.faces.set(f.faceToken, f);
    g.log.push({ version: ++g.version, op: 'bind', token: f.faceToken });
  }

  unbind(name: string, token: string): void {
    const g = this.groups.get(name)!;
    g.faces.delete(token);
    g.log.push({ version: ++g.version, op: 'unbind', token });
  }

  /** Forget the change log (as compaction would): older terminals get FULL copies. */
  compact(name: string): void {
    const g = this.groups.get(name)!;
    g.log = [];
    g.logFloor = g.version;
  }

  respond(body: unknown): Uint8Array {
    const request = parseSyncRequest(body);
    const encoding: FeatureEncoding = request.featureEncoding;
    const reset = request.searchModel !== this.searchModel;
    const w = new SyncStreamWriter();
    const parts = [w.header({ searchModel: this.searchModel, serverTimeMs: this.serverTimeMs, featureEncoding: encoding, featureDim: this.dim })];
    for (const r of request.groups) {
      const g = this.groups.get(r.groupName);
      const base = { groupName: r.groupName, localVersion: r.localVersion };
      if (!g) {
        parts.push(w.groupResult({ ...base, groupId: r.groupId ?? 0, cloudVersion: 0, kind: SyncKind.GroupGone, faceCount: 0, tokenDigest: 0n }));
        continue;
      }
      const result: GroupResult = {
        ...base,
        groupId: g.id,
        cloudVersion: g.version,
        kind: SyncKind.Full,
        faceCount: g.faces.size,
        tokenDigest: digestOf(g.faces.keys()),
      };
      if (reset) result.kind = SyncKind.Reset;
      else if (r.groupId === g.id && r.localVersion === g.version) result.kind = SyncKind.Unchanged;
      else if (r.groupId === g.id && r.localVersion >= g.logFloor) result.kind = SyncKind.Delta;
      if (result.kind === SyncKind.Delta) {
        const net = new Map<string, 'bind' | 'unbind'>();
        for (const c of g.log) if (c.version > r.localVersion) net.set(c.token, c.op);
        const upserts = [...net].filter(([, op]) => op === 'bind').map(([t]) => g.faces.get(t)!).filter(Boolean);
        const removed = [...net].filter(([, op]) => op === 'unbind').map(([t]) => t);
        parts.push(w.groupResult(result), w.faces(upserts), w.removed(removed));
      } else if (result.kind === SyncKind.Unchanged) {
        parts.push(w.groupResult(result));
      } else if (g.faces.size > this.snapshotThreshold) {
        const url = `/snapshots/${g.id}-${g.version}-${encoding}`;
        const snapshot = this.snapshot(g, r.groupName, encoding);
        this.snapshots.set(url, snapshot);
        parts.push(w.groupResult({ ...result, snapshot: { url, etag: `"${g.id}-${g.version}"`, byteLength: snapshot.length } }));
      } else {
        parts.push(w.groupResult(result), w.faces([...g.faces.values()]));
      }
    }
    parts.push(w.finish());
    return concatBytes(...parts);
  }

  snapshot(g: ServerGroup, name: string, encoding: FeatureEncoding): Uint8Array {
    const w = new SyncStreamWriter({ targetFrameBytes: 512 });
    return concatBytes(
      w.header({ searchModel: this.searchModel, serverTimeMs: this.serverTimeMs, featureEncoding: encoding, featureDim: this.dim }),
      w.groupResult({
        groupName: name,
        groupId: g.id,
        cloudVersion: g.version,
        localVersion: 0,
        kind: SyncKind.Full,
        faceCount: g.faces.size,
        tokenDigest: digestOf(g.faces.keys()),
      }),
      w.faces([...g.faces.values()]),
      w.finish(),
    );
  }
}

export interface RecordedRequest {
  url: string;
  init: RequestInitLike;
}

/** A Response whose body yields `bytes` in pieces of `chunkSize`, then fails after `failAfter` bytes if given. */
export function streamResponse(
  bytes: Uint8Array,
  init: { status?: number; headers?: Record<string, string>; chunkSize?: number; failAfter?: number } = {},
): ResponseLike {
  const { chunkSize = 1 << 16, failAfter } = init;
  const end = failAfter ?? bytes.length;
  let offset = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= end) {
        if (failAfter !== undefined) controller.error(new Error('connection reset'));
        else controller.close();
        return;
      }
      const next = Math.min(end, offset + chunkSize);
      controller.enqueue(bytes.slice(offset, next));
      offset = next;
    },
  });
  return new Response(stream, {
    status: init.status ?? 200,
    headers: { 'content-type': SYNC_MEDIA_TYPE, ...init.headers },
  }) as unknown as ResponseLike;
}

/** fetch for a MiniSyncServer, recording every request. */
export function serverFetch(
  server: MiniSyncServer,
  options: { chunkSize?: number } = {},
): { fetch: (url: string, init: RequestInitLike) => Promise<ResponseLike>; requests: RecordedRequest[] } {
  const requests: RecordedRequest[] = [];
  const fetch = async (url: string, init: RequestInitLike): Promise<ResponseLike> => {
    requests.push({ url, init });
    const path = new URL(url).pathname;
    if (init.method === 'POST' && path.endsWith('/api/service/sync/v1')) {
      return streamResponse(server.respond(JSON.parse(init.body!)), { chunkSize: options.chunkSize });
    }
    const snapshot = server.snapshots.get(path);
    if (snapshot) return streamResponse(snapshot, { headers: { etag: `"snap"` } });
    return new Response('{"code":404,"message":"not found"}', { status: 404 }) as unknown as ResponseLike;
  };
  return { fetch, requests };
}

/** Timers driven by the test: nothing runs until advance(). */
export class FakeTimers implements TimerApi {
  now = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Delays of the pending timers, soonest first. */
  get delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** Moves the clock, running every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }
}

/** A WebSocket the test plays the server side of. */
export class FakeWebSocket implements WebSocketLike {
  binaryType = 'blob';
  readonly sent: PushMessage[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly headers: Record<string, string>,
  ) {}

  send(data: Uint8Array): void {
    this.sent.push(decodePushFrame(data)!);
  }

  close(code?: number, reason?: string): void {
    if (this.closedWith) return;
    this.closedWith = { code, reason };
    queueMicrotask(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }));
  }

  // --- the server side ---
  open(): void {
    this.onopen?.({});
  }

  receive(message: PushMessage): void {
    const bytes = encodePushFrame(message);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  receiveRaw(data: unknown): void {
    this.onmessage?.({ data });
  }

  serverClose(code: number, reason = ''): void {
    this.closedWith = { code, reason };
    this.onclose?.({ code, reason });
  }
}

/** Lets pending promise callbacks (and real-time I/O of in-memory streams) run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function until(condition: () => boolean, what: string, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (condition()) return;
    await settle();
  }
  throw new Error(`timed out waiting for ${what}`);
}
