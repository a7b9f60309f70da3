// Push fan-out for bench:sync: `clients` terminals in a separate process
// (tools/push-crowd.ts), all holding one group.
// - floor: the same crowd on a plain `ws` server in this process that sends
//   one pre-encoded VersionNotice to every socket in a loop: what the
//   transport itself costs on this machine, the baseline of the same run;
// - hub: `changes` bind/unbind commits, one at a time and spaced by more
//   than the coalescing window, through the store; latency from the store's
//   onCommit to each terminal's receipt;
// - storm: `stormRate` binds per second for `stormSeconds` (commits in
//   flight together, as the store batches them); notices per terminal
//   against the coalescing window, as sent (the hub's 'notice-sent' events)
//   and as received.
// Times are absolute (performance.timeOrigin + now()), shared with the crowd.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodePushFrame, encodePushFrame, PushFrameType, PUSH_PATH } from '../device-protocol/index.js';
import type { FaceServer } from '../server/app.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../server/core/ids.js';
import { col, int, mean, percentile } from './bench-common.js';

/** Longest wait for every terminal's notice of one change. */
const NOTICE_TIMEOUT_MS = 10_000;
/** The goal of issue 12: commit -> all terminals notified, p99. */
const GOAL_P99_MS = 15;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface CrowdNotices {
  notices: number;
  minGapMs: number | null;
  maxInWindow: number;
}

/** The child process of terminals (protocol: tools/push-crowd.ts). */
class Crowd {
  readonly #child: ChildProcess;
  readonly closes: number[] = [];
  readonly #waiting = new Map<string, (message: Record<string, unknown>) => void>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: Record<string, unknown>) => {
      if (message.type === 'closed') this.closes.push(message.code as number);
      const key = message.type === 'complete' ? `complete:${message.version}` : String(message.type);
      const resolve = this.#waiting.get(key);
      this.#waiting.delete(key);
      resolve?.(message);
    });
  }

  static async start(url: string, key: string, group: string, count: number, prefix: string): Promise<{ crowd: Crowd; connectMs: number }> {
    const child = fork(fileURLToPath(new URL('./push-crowd.ts', import.meta.url)), [url, key, group, String(count), prefix], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const crowd = new Crowd(child);
    const first = await Promise.race([crowd.#next('ready'), crowd.#next('error'), once(child, 'exit').then((): Record<string, unknown> => ({ type: 'exit' }))]);
    if (first.type !== 'ready') {
      child.kill();
      throw new Error(`push crowd: ${String(first.message ?? first.type)}`);
    }
    return { crowd, connectMs: first.connectMs as number };
  }

  #next(key: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.#waiting.set(key, resolve));
  }

  /** Resolves true once every terminal heard of `version` (or later), false after the timeout. */
  async awaitVersion(version: number, timeoutMs = NOTICE_TIMEOUT_MS): Promise<boolean> {
    const done = this.#next(`complete:${version}`);
    this.#child.send({ cmd: 'await', version });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([done.then(() => true), timeout]);
    clearTimeout(timer);
    if (!ok) this.#waiting.delete(`complete:${version}`);
    return ok;
  }

  async arrivals(versions: number[]): Promise<Record<number, Array<number | null>>> {
    const reply = this.#next('arrivals');
    this.#child.send({ cmd: 'arrivals', versions });
    return (await reply).at as Record<number, Array<number | null>>;
  }

  async notices(window: number): Promise<CrowdNotices[]> {
    const reply = this.#next('notices');
    this.#child.send({ cmd: 'notices', window });
    return (await reply).perTerminal as CrowdNotices[];
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return;
    const exited = once(this.#child, 'exit');
    this.#child.send({ cmd: 'exit' });
    await Promise.race([exited, sleep(5000)]);
    this.#child.kill();
  }
}

interface Latency {
  /** Every (change, terminal) pair. */
  pairs: number[];
  /** Per change: the last terminal's. */
  last: number[];
  missing: number;
}

/** Latencies of `versions` from their start times, from the crowd's arrivals. */
async function latencies(crowd: Crowd, startedAt: Map<number, number>): Promise<Latency> {
  const at = await crowd.arrivals([...startedAt.keys()]);
  const result: Latency = { pairs: [], last: [], missing: 0 };
  for (const [version, t0] of startedAt) {
    let last = 0;
    for (const t of at[version] ?? []) {
      if (t === null) {
        result.missing++;
        continue;
      }
      result.pairs.push(t - t0);
      last = Math.max(last, t - t0);
    }
    result.last.push(last);
  }
  return result;
}

const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs), n: xs.length });

/** The floor: a plain ws server answering hellos and sending one pre-encoded notice per change to every socket. */
async function measureFloor(group: string, key: string, clients: number, changes: number): Promise<Latency & { connectMs: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, path: PUSH_PATH });
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const message = decodePushFrame(data as Buffer);
      if (message?.type !== PushFrameType.ClientHello) return;
      sockets.push(ws);
      ws.send(encodePushFrame({
        type: PushFrameType.ServerHello,
        hello: { protocolVersion: 1, searchModel: '', serverTimeMs: Date.now(), groups: [{ groupName: group, groupId: 1, version: 0 }] },
      }));
    });
    ws.on('error', () => undefined);
  });
  await once(wss, 'listening');
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}${PUSH_PATH}`;
  const { crowd, connectMs } = await Crowd.start(url, key, group, clients, 'bench-floor');
  try {
    const startedAt = new Map<number, number>();
    for (let version = 1; version <= changes; version++) {
      const frame = encodePushFrame({ type: PushFrameType.Notice, groups: [{ groupName: group, groupId: 1, version }] });
      const done = crowd.awaitVersion(version);
      startedAt.set(version, now());
      for (const ws of sockets) ws.send(frame);
      await done;
    }
    return { ...(await latencies(crowd, startedAt)), connectMs };
  } finally {
    await crowd.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

export interface PushBenchOptions {
  server: FaceServer;
  deviceKey: string;
  group: GroupName;
  /** faces[0] is bound and unbound for the one-at-a-time changes; the storm binds faces[1..]. */
  faces: readonly FaceToken[];
  clients: number;
  changes: number;
  stormRate: number;
  stormSeconds: number;
  say: (line?: string) => void;
}

export async function benchPush(o: PushBenchOptions): Promise<Record<string, unknown>> {
  const { server, say } = o;
  const store = server.store;
  const coalesceMs = server.push.options.coalesceMs;
  const groupId = (await store.getGroup(DEFAULT_LIBRARY, o.group))!.groupId;

  const floor = await measureFloor(o.group, o.deviceKey, o.clients, o.changes);

  const pushUrl = server.url.replace(/^http/, 'ws') + PUSH_PATH;
  const { crowd, connectMs } = await Crowd.start(pushUrl, o.deviceKey, o.group, o.clients, 'bench-push');
  const committedAt = new Map<number, number>();
  const offCommit = store.onCommit((c) => {
    if (c.group.groupId === groupId) committedAt.set(c.change.version, now());
  });
  const serverSendMs: number[] = [];
  /** Per terminal: when the hub handed it a notice (absolute ms). */
  const sentTimes = new Map<string, number[]>();
  const offSent = server.push.on('notice-sent', (e) => {
    if (!e.groups.some((g) => g.groupName === o.group)) return;
    serverSendMs.push(e.sentAt - e.firstObservedAt);
    const times = sentTimes.get(e.deviceId);
    const at = performance.timeOrigin + e.sentAt;
    if (times) times.push(at);
    else sentTimes.set(e.deviceId, [at]);
  });
  try {
    // ---- one change at a time
    const versions = new Map<number, number>();
    const pushFace = o.faces[0]!;
    for (let c = 0; c < o.changes; c++) {
      // Spaced by more than the window: each change is the first of its burst (bursts are the storm's part).
      await sleep(coalesceMs + 5);
      const committed = c % 2 === 0 ? await store.bind(DEFAULT_LIBRARY, o.group, pushFace) : await store.unbind(DEFAULT_LIBRARY, o.group, pushFace);
      if (!committed) throw new Error('push bind was a no-op');
      await crowd.awaitVersion(committed.change.version);
      versions.set(committed.change.version, committedAt.get(committed.change.version)!);
    }
    const hub = await latencies(crowd, versions);
    const hubSendMs = [...serverSendMs];

    // ---- storm
    // Let every terminal's window from the last change close first, so the storm starts from quiet.
    await sleep(coalesceMs + 10);
    sentTimes.clear();
    const stormFaces = o.faces.slice(1, 1 + o.stormRate * o.stormSeconds);
    const inFlight: Array<Promise<unknown>> = [];
    const stormStarted = now();
    let issued = 0;
    while (issued < stormFaces.length) {
      const due = Math.min(stormFaces.length, Math.floor(((now() - stormStarted) / 1000) * o.stormRate) + 1);
      while (issued < due) inFlight.push(store.bind(DEFAULT_LIBRARY, o.group, stormFaces[issued++]!));
      await sleep(1);
    }
    await Promise.all(inFlight);
    const stormMs = now() - stormStarted;
    const finalVersion = (await store.getGroup(DEFAULT_LIBRARY, o.group))!.version;
    const finalCommittedAt = committedAt.get(finalVersion)!;
    const caughtUp = await crowd.awaitVersion(finalVersion);
    const finalAt = await crowd.arrivals([finalVersion]);
    const finalLast = Math.max(...(finalAt[finalVersion] ?? []).map((t) => (t === null ? NaN : t - finalCommittedAt)));
    const received = await crowd.notices(coalesceMs);
    // The crowd's counts cover the whole run: take the storm's share from the hub's own record.
    const sentPerTerminal = [...sentTimes.values()];
    const sentGaps = sentPerTerminal.flatMap((times) => times.slice(1).map((t, k) => t - times[k]!));
    const windows = stormMs / coalesceMs;
    const noticesPerTerminal = sentPerTerminal.map((t) => t.length);
    const stormJson = {
      changes: stormFaces.length, ms: stormMs, changesPerSec: (stormFaces.length / stormMs) * 1000, coalesceMs, windows,
      terminalsNotified: sentPerTerminal.length,
      noticesPerTerminal: { max: Math.max(...noticesPerTerminal), mean: mean(noticesPerTerminal) },
      minSentGapMs: sentGaps.length > 0 ? Math.min(...sentGaps) : null,
      terminalsWithTwoSentInAWindow: sentPerTerminal.filter((times) => times.some((t, k) => k > 0 && t - times[k - 1]! < coalesceMs)).length,
      terminalsWithTwoReceivedInAWindow: received.filter((r) => r.maxInWindow > 1).length,
      caughtUp, lastChangeToAllMs: finalLast,
    };

    const floorPairs = stats(floor.pairs);
    const floorLast = stats(floor.last);
    const hubPairs = stats(hub.pairs);
    const hubLast = stats(hub.last);
    const send = stats(hubSendMs);
    say(`\nPush fan-out: ${int(o.clients)} raw ws terminals in a separate process (tools/push-crowd.ts), holding one group; ${o.changes} changes one at a time`);
    say(`  connect + ClientHello -> ServerHello for all: hub ${connectMs.toFixed(0)} ms, floor ${floor.connectMs.toFixed(0)} ms`);
    say('                                                     p50      p99      max');
    const row = (label: string, s: ReturnType<typeof stats>, unit: string) =>
      say(`  ${label.padEnd(48)}${col(s.p50, 8)}${col(s.p99, 9)}${col(s.max, 9)}   ms ${unit}`);
    row('floor: send loop -> received, all pairs', floorPairs, `(${int(floorPairs.n)} pairs)`);
    row('floor: send loop -> last terminal', floorLast, '(per change)');
    row('hub: commit -> notice received, all pairs', hubPairs, `(${int(hubPairs.n)} pairs)`);
    row('hub: commit -> last terminal received', hubLast, '(per change)');
    row('hub: observe -> frame handed to the socket', send, "('notice-sent' events)");
    say(`  hub / floor (same run): all pairs p50 ${(hubPairs.p50 / floorPairs.p50).toFixed(2)}x, p99 ${(hubPairs.p99 / floorPairs.p99).toFixed(2)}x; ` +
      `last terminal p99 ${(hubLast.p99 / floorLast.p99).toFixed(2)}x`);
    say(`  goal (issue 12): commit -> all ${int(o.clients)} notified p99 <= ${GOAL_P99_MS} ms: ${hubLast.p99 <= GOAL_P99_MS ? 'met' : 'NOT met'} (${hubLast.p99.toFixed(2)} ms)`);
    say(`  floor = plain ws server in this process sending one pre-encoded notice to every socket; t0 = the send loop's start.`);
    say(`  hub t0 = the store's onCommit; the first change after a quiet spell is sent at once (window ${coalesceMs} ms).`);
    if (hub.missing + floor.missing > 0) say(`  ! ${int(hub.missing + floor.missing)} (change, terminal) notices not received within ${NOTICE_TIMEOUT_MS} ms`);
    say(`\nStorm: ${int(stormFaces.length)} binds of the held group in ${stormMs.toFixed(0)} ms (${int(stormJson.changesPerSec)} changes/s, commits in flight together)`);
    say(`  notices per terminal: max ${stormJson.noticesPerTerminal.max}, mean ${stormJson.noticesPerTerminal.mean.toFixed(1)}; ` +
      `the storm spans ${windows.toFixed(1)} windows of ${coalesceMs} ms`);
    say(`  as sent: smallest gap between two notices to one terminal ${stormJson.minSentGapMs?.toFixed(2) ?? '-'} ms; ` +
      `terminals with two notices within one window: ${stormJson.terminalsWithTwoSentInAWindow} of ${stormJson.terminalsNotified}`);
    say(`  as received (whole run): terminals with two notices within ${coalesceMs} ms: ${stormJson.terminalsWithTwoReceivedInAWindow} of ${received.length} ` +
      '(network and scheduling jitter can bring two notices closer on arrival)');
    say(`  last change -> all ${int(o.clients)} terminals at the final version: ${caughtUp ? `${finalLast.toFixed(1)} ms` : 'NOT within the timeout'}`);
    if (crowd.closes.length > 0) say(`  ! ${crowd.closes.length} push connections closed during the run`);
    return {
      clients: o.clients, changes: o.changes, coalesceMs, connectMs, floorConnectMs: floor.connectMs,
      floor: { all: floorPairs, last: floorLast, missing: floor.missing },
      commitToNotice: hubPairs, commitToLastClient: hubLast, serverObserveToSend: send, missing: hub.missing,
      goalP99Ms: GOAL_P99_MS, goalMet: hubLast.p99 <= GOAL_P99_MS,
      storm: stormJson, unexpectedCloses: crowd.closes.length,
    };
  } finally {
    offCommit();
    offSent();
    await crowd.close();
  }
}
