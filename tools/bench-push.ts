// Push fan-out for bench:sync: `clients` terminals in a separate process
// (tools/push-crowd.ts, raw clients timing each receipt when its bytes are
// read), all holding one group.
// - floors: a crowd like the hub's on a plain `ws` server in this process
//   that sends one pre-encoded VersionNotice to every socket in a loop: what
//   the transport itself costs on this machine, the baseline of the same run.
//   Two of them: `ws.send()` per socket, and the notice framed once
//   (server/push/wire-frame.ts) and written to each socket, as the hub does.
//   By default their changes alternate with the hub's (one of each per
//   round), so the three see the same machine: it is shared, and a load that
//   comes and goes within seconds made the floors and the hub, measured one
//   after the other, incomparable at p99;
// - hub: `changes` bind/unbind commits, one at a time and spaced by more
//   than the coalescing window, through the store; latency from the commit
//   reaching the hub (its onCommit listener, the first called) to each
//   terminal's receipt;
// - storm: `stormRate` binds per second for `stormSeconds` (commits in
//   flight together, as the store batches them); notices per terminal
//   against the coalescing window, as sent (the hub's 'notice-sent' events)
//   and as received.
// Times are absolute (performance.timeOrigin + now()), shared with the crowd.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodePushFrame, encodePushFrame, PushFrameType, PUSH_PATH } from '../device-protocol/index.js';
import type { FaceServer } from '../server/app.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../server/core/ids.js';
import { frameBinary } from '../server/push/wire-frame.js';
import { col, cpuTicks, int, mean, percentile, stealPercent } from './bench-common.js';

/** Longest wait for every terminal's notice of one change. */
const NOTICE_TIMEOUT_MS = 10_000;
/** Pause before each floor change: the hub's changes are spaced by the 25 ms window + 5. */
const WINDOW_SPACING_MS = 30;
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

  /** The crowd's CPU time since all were connected, per notice received (IPC with this process included). */
  cpuPerNotice: { userUs: number; systemUs: number } | null = null;

  async arrivals(versions: number[]): Promise<Record<number, Array<number | null>>> {
    const reply = this.#next('arrivals');
    this.#child.send({ cmd: 'arrivals', versions });
    const message = await reply;
    const cpu = message.cpu as { userUs: number; systemUs: number; notices: number };
    this.cpuPerNotice = { userUs: cpu.userUs / cpu.notices, systemUs: cpu.systemUs / cpu.notices };
    return message.at as Record<number, Array<number | null>>;
  }

  /** Per terminal, over the notices it received at or after `since` (absolute ms). */
  async notices(window: number, since: number): Promise<CrowdNotices[]> {
    const reply = this.#next('notices');
    this.#child.send({ cmd: 'notices', window, since });
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

interface GcPause {
  /** Absolute ms. */
  start: number;
  ms: number;
}

/** This process's GC pauses (perf_hooks 'gc' entries: scavenges and full GCs) from now on, until stop(). */
function recordGcPauses(): { pauses: GcPause[]; stop(): void } {
  const pauses: GcPause[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: performance.timeOrigin + e.startTime, ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  return { pauses, stop: () => observer.disconnect() };
}

/** How many of the fan-outs (t0 -> last receipt, per change) had a GC pause inside, and the longest such pause. */
function gcInFanOuts(pauses: readonly GcPause[], startedAt: ReadonlyMap<number, number>, last: readonly number[]): { fanOuts: number; of: number; maxMs: number } {
  let fanOuts = 0;
  let maxMs = 0;
  let k = 0;
  for (const t0 of startedAt.values()) {
    const t1 = t0 + last[k++]!;
    const inside = pauses.filter((p) => p.start < t1 && p.start + p.ms > t0);
    if (inside.length === 0) continue;
    fanOuts++;
    maxMs = Math.max(maxMs, ...inside.map((p) => p.ms));
  }
  return { fanOuts, of: startedAt.size, maxMs };
}

const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs), n: xs.length });

/**
 * A floor: a plain ws server answering hellos and sending one pre-encoded
 * notice per change to every socket, by `ws.send()` ('ws-send') or framed
 * once and written to each upgraded socket ('framed', what the hub does),
 * with a crowd of its own.
 */
class Floor {
  readonly startedAt = new Map<number, number>();
  readonly loopMs: number[] = [];
  #version = 0;

  private constructor(
    readonly mode: 'ws-send' | 'framed',
    readonly connectMs: number,
    readonly crowd: Crowd,
    readonly group: string,
    readonly sockets: ReadonlyArray<{ ws: WebSocket; socket: Duplex }>,
    readonly close: () => Promise<void>,
  ) {}

  static async start(mode: 'ws-send' | 'framed', group: string, key: string, clients: number): Promise<Floor> {
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    http.on('upgrade', (req, socket: Duplex, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, socket)));
    http.listen(0, '127.0.0.1');
    const sockets: Array<{ ws: WebSocket; socket: Duplex }> = [];
    wss.on('connection', (ws: WebSocket, socket: Duplex) => {
      ws.on('message', (data) => {
        const message = decodePushFrame(data as Buffer);
        if (message?.type !== PushFrameType.ClientHello) return;
        sockets.push({ ws, socket });
        ws.send(encodePushFrame({
          type: PushFrameType.ServerHello,
          hello: { protocolVersion: 1, searchModel: '', serverTimeMs: Date.now(), groups: [{ groupName: group, groupId: 1, version: 0 }] },
        }));
      });
      ws.on('error', () => undefined);
    });
    await once(http, 'listening');
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}${PUSH_PATH}`;
    const stop = async () => {
      for (const s of sockets) s.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    };
    let started: { crowd: Crowd; connectMs: number };
    try {
      started = await Crowd.start(url, key, group, clients, `bench-floor-${mode}`);
    } catch (err) {
      await stop();
      throw err;
    }
    return new Floor(mode, started.connectMs, started.crowd, group, sockets, async () => {
      await started.crowd.close();
      await stop();
    });
  }

  /** One change: the notice to every socket in one synchronous loop, then waits until every terminal has it. */
  async change(): Promise<void> {
    const version = ++this.#version;
    const done = this.crowd.awaitVersion(version);
    const t0 = now();
    this.startedAt.set(version, t0);
    const payload = encodePushFrame({ type: PushFrameType.Notice, groups: [{ groupName: this.group, groupId: 1, version }] });
    if (this.mode === 'ws-send') {
      for (const s of this.sockets) s.ws.send(payload);
    } else {
      const framed = frameBinary(payload);
      for (const s of this.sockets) s.socket.write(framed);
    }
    this.loopMs.push(now() - t0);
    await done;
  }

  results(): Promise<Latency> {
    return latencies(this.crowd, this.startedAt);
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
  /**
   * 'interleaved' (default): each round is one change of each floor and one
   * of the hub, so all three see the same machine (other processes come and
   * go within seconds); 'sequential': all changes of the ws.send() floor,
   * then the framed floor's, then the hub's (how runs before 2026-12-02 20:00 measured).
   */
  order?: 'interleaved' | 'sequential';
  say: (line?: string) => void;
}

export async function benchPush(o: PushBenchOptions): Promise<Record<string, unknown>> {
  const { server, say } = o;
  const store = server.store;
  const coalesceMs = server.push.options.coalesceMs;
  const groupId = (await store.getGroup(DEFAULT_LIBRARY, o.group))!.groupId;

  /** GC pauses of this process (which runs the hub and the floors), to count those inside fan-outs. */
  const gcPauses = recordGcPauses();
  const order = o.order ?? 'interleaved';
  const floors: Floor[] = [];
  const pushUrl = server.url.replace(/^http/, 'ws') + PUSH_PATH;
  let started: { crowd: Crowd; connectMs: number } | undefined;
  try {
    floors.push(await Floor.start('ws-send', o.group, o.deviceKey, o.clients));
    floors.push(await Floor.start('framed', o.group, o.deviceKey, o.clients));
    started = await Crowd.start(pushUrl, o.deviceKey, o.group, o.clients, 'bench-push');
  } catch (err) {
    for (const f of floors) await f.close();
    gcPauses.stop();
    throw err;
  }
  const [floorSendRun, floorRun] = floors as [Floor, Floor];
  const { crowd, connectMs } = started;
  const committedAt = new Map<number, number>();
  let lastCommitted = 0;
  const offCommit = store.onCommit((c) => {
    if (c.group.groupId !== groupId) return;
    committedAt.set(c.change.version, now());
    lastCommitted = c.change.version;
  });
  /**
   * Per version: when the hub's onCommit saw it (absolute ms), from the hub's
   * 'flush' event. The hub subscribed first, so this is earlier than the
   * bench's own listener by the hub's fan-out bookkeeping: t0 is the earlier
   * of the two. One event per fan-out: the one-at-a-time part does not listen
   * to 'notice-sent', which would build an event per terminal inside the
   * fan-out it measures (a production hub has no listener).
   */
  const observedAt = new Map<number, number>();
  /** Per version: when the hub's flush started and when it handed its notice to the last socket (absolute ms). */
  const flushAt = new Map<number, { startedAt: number; endedAt: number }>();
  let offFlush = server.push.on('flush', (e) => {
    // One change at a time: the flush after a commit carries that commit's notice.
    if (flushAt.has(lastCommitted)) return;
    observedAt.set(lastCommitted, performance.timeOrigin + e.firstObservedAt);
    flushAt.set(lastCommitted, { startedAt: performance.timeOrigin + e.startedAt, endedAt: performance.timeOrigin + e.endedAt });
  });
  /** Per terminal: when the hub handed it a notice (absolute ms); the storm only. */
  const sentTimes = new Map<string, number[]>();
  let offSent = () => {};
  try {
    // ---- one change at a time
    const versions = new Map<number, number>();
    const pushFace = o.faces[0]!;
    const hubChange = async (c: number) => {
      // Spaced by more than the window: each change is the first of its burst (bursts are the storm's part).
      await sleep(coalesceMs + 5);
      const committed = c % 2 === 0 ? await store.bind(DEFAULT_LIBRARY, o.group, pushFace) : await store.unbind(DEFAULT_LIBRARY, o.group, pushFace);
      if (!committed) throw new Error('push bind was a no-op');
      await crowd.awaitVersion(committed.change.version);
      const v = committed.change.version;
      versions.set(v, Math.min(committedAt.get(v)!, observedAt.get(v) ?? Infinity));
    };
    const floorChange = async (floor: Floor) => {
      // Spaced like the hub's changes, so each sees an idle crowd.
      await sleep(WINDOW_SPACING_MS);
      await floor.change();
    };
    const ticksBefore = cpuTicks();
    if (order === 'interleaved') {
      for (let c = 0; c < o.changes; c++) {
        for (const f of floors) await floorChange(f);
        await hubChange(c);
      }
    } else {
      for (const f of floors) for (let c = 0; c < o.changes; c++) await floorChange(f);
      for (let c = 0; c < o.changes; c++) await hubChange(c);
    }
    const steal = stealPercent(ticksBefore, cpuTicks());
    const floorSend = { ...(await floorSendRun.results()), connectMs: floorSendRun.connectMs, loopMs: floorSendRun.loopMs, startedAt: floorSendRun.startedAt };
    const floor = { ...(await floorRun.results()), connectMs: floorRun.connectMs, loopMs: floorRun.loopMs, startedAt: floorRun.startedAt };
    for (const f of floors) await f.close();
    floors.length = 0;
    const hub = await latencies(crowd, versions);
    const crowdCpu = crowd.cpuPerNotice!;
    const hubStartMs = [...versions].map(([v, t0]) => (flushAt.get(v)?.startedAt ?? NaN) - t0);
    const hubLoopMs = [...versions].map(([v, t0]) => (flushAt.get(v)?.endedAt ?? NaN) - t0);
    const hubFlushMs = [...versions.keys()].map((v) => (flushAt.get(v)?.endedAt ?? NaN) - (flushAt.get(v)?.startedAt ?? NaN));
    const hubGc = gcInFanOuts(gcPauses.pauses, versions, hub.last);
    const floorGc = gcInFanOuts(gcPauses.pauses, floor.startedAt, floor.last);
    const floorSendGc = gcInFanOuts(gcPauses.pauses, floorSend.startedAt, floorSend.last);
    gcPauses.stop();
    offFlush();
    offFlush = () => {};

    // ---- storm
    // Let every terminal's window from the last change close first, so the storm starts from quiet.
    await sleep(coalesceMs + 10);
    offSent = server.push.on('notice-sent', (e) => {
      if (!e.groups.some((x) => x.groupName === o.group)) return;
      const at = performance.timeOrigin + e.sentAt;
      const times = sentTimes.get(e.deviceId);
      if (times) times.push(at);
      else sentTimes.set(e.deviceId, [at]);
    });
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
    const received = await crowd.notices(coalesceMs, stormStarted);
    // The hub's record of the storm (sentTimes was cleared at its start).
    const sentPerTerminal = [...sentTimes.values()];
    const sentGaps = sentPerTerminal.flatMap((times) => times.slice(1).map((t, k) => t - times[k]!));
    const windows = stormMs / coalesceMs;
    const noticesPerTerminal = sentPerTerminal.map((t) => t.length);
    const receivedGaps = received.flatMap((r) => (r.minGapMs === null ? [] : [r.minGapMs]));
    const stormJson = {
      changes: stormFaces.length, ms: stormMs, changesPerSec: (stormFaces.length / stormMs) * 1000, coalesceMs, windows,
      terminalsNotified: sentPerTerminal.length,
      noticesPerTerminal: { max: Math.max(...noticesPerTerminal), mean: mean(noticesPerTerminal) },
      minSentGapMs: sentGaps.length > 0 ? Math.min(...sentGaps) : null,
      terminalsWithTwoSentInAWindow: sentPerTerminal.filter((times) => times.some((t, k) => k > 0 && t - times[k - 1]! < coalesceMs)).length,
      terminalsWithTwoReceivedInAWindow: received.filter((r) => r.maxInWindow > 1).length,
      // Per terminal, its two closest notices as read: how far receipt jitter brings them together.
      receivedMinGapMs: receivedGaps.length > 0 ? { p50: percentile(receivedGaps, 50), min: Math.min(...receivedGaps) } : null,
      caughtUp, lastChangeToAllMs: finalLast,
    };

    const floorSendPairs = stats(floorSend.pairs);
    const floorSendLast = stats(floorSend.last);
    const floorPairs = stats(floor.pairs);
    const floorLast = stats(floor.last);
    const hubPairs = stats(hub.pairs);
    const hubLast = stats(hub.last);
    const flushStart = stats(hubStartMs);
    say(`\nPush fan-out: ${int(o.clients)} raw WebSocket terminals in a separate process (tools/push-crowd.ts, raw-ws-client.ts), holding one group; ${o.changes} changes one at a time`);
    say(`  order: ${order === 'interleaved' ? 'interleaved (each round: one change of each floor, then one of the hub, each with its own crowd)' : 'sequential (the floors\' changes, then the hub\'s)'}`);
    say(`  connect + ClientHello -> ServerHello for all: hub ${connectMs.toFixed(0)} ms, floors ${floorSend.connectMs.toFixed(0)} / ${floor.connectMs.toFixed(0)} ms`);
    say('                                                     p50      p99      max');
    const row = (label: string, s: ReturnType<typeof stats>, unit: string) =>
      say(`  ${label.padEnd(48)}${col(s.p50, 8)}${col(s.p99, 9)}${col(s.max, 9)}   ms ${unit}`);
    row('floor ws.send(): send loop -> received, all pairs', floorSendPairs, `(${int(floorSendPairs.n)} pairs)`);
    row('floor ws.send(): send loop -> last terminal', floorSendLast, '(per change)');
    row('floor framed once: -> received, all pairs', floorPairs, `(${int(floorPairs.n)} pairs)`);
    row('floor framed once: -> last terminal', floorLast, '(per change)');
    row('hub: commit -> notice received, all pairs', hubPairs, `(${int(hubPairs.n)} pairs)`);
    row('hub: commit -> last terminal received', hubLast, '(per change)');
    row('floor framed once: the send loop alone', stats(floor.loopMs), '(per change)');
    row('hub: commit -> fan-out (flush) starts', flushStart, "(per change, 'flush' events)");
    row('hub: the fan-out (flush) alone', stats(hubFlushMs), '(per change)');
    row('hub: commit -> last frame handed', stats(hubLoopMs), '(per change)');
    say(`  the receiving crowd's own CPU per notice (hub part): user ${crowdCpu.userUs.toFixed(2)} + system ${crowdCpu.systemUs.toFixed(2)} us ` +
      `(x ${int(o.clients)} terminals: ${((crowdCpu.userUs + crowdCpu.systemUs) * o.clients / 1000).toFixed(1)} ms of its core per change)`);
    const gcLine = (g: ReturnType<typeof gcInFanOuts>) => `${g.fanOuts} of ${g.of}${g.fanOuts > 0 ? ` (longest ${g.maxMs.toFixed(1)} ms)` : ''}`;
    say(`  GC pauses of this process inside a fan-out (t0 -> last terminal): hub ${gcLine(hubGc)}; floors ws.send() ${gcLine(floorSendGc)}, framed ${gcLine(floorGc)}`);
    say(`  hub / framed floor (same run): all pairs p50 ${(hubPairs.p50 / floorPairs.p50).toFixed(2)}x, p99 ${(hubPairs.p99 / floorPairs.p99).toFixed(2)}x; ` +
      `last terminal p99 ${(hubLast.p99 / floorLast.p99).toFixed(2)}x`);
    say(`  goal (issue 12): commit -> all ${int(o.clients)} notified p99 <= ${GOAL_P99_MS} ms: ${hubLast.p99 <= GOAL_P99_MS ? 'met' : 'NOT met'} (${hubLast.p99.toFixed(2)} ms)`);
    // On a shared virtual machine the other guests' load shows only here.
    if (steal !== undefined) say(`  CPU steal during the one-at-a-time part (the hypervisor's time for other guests): ${steal.toFixed(1)}% of the machine`);
    say(`  floors = plain ws server in this process sending one pre-encoded notice to every socket, by ws.send() or framed once`);
    say(`  and written to each socket; t0 = the send loop's start (encoding included). Receipt = the terminal's read of the bytes.`);
    say(`  hub t0 = the commit reaching the hub (store onCommit); the first change after a quiet spell is sent at once (window ${coalesceMs} ms).`);
    const missing = hub.missing + floor.missing + floorSend.missing;
    if (missing > 0) say(`  ! ${int(missing)} (change, terminal) notices not received within ${NOTICE_TIMEOUT_MS} ms`);
    say(`\nStorm: ${int(stormFaces.length)} binds of the held group in ${stormMs.toFixed(0)} ms (${int(stormJson.changesPerSec)} changes/s, commits in flight together)`);
    say(`  notices per terminal: max ${stormJson.noticesPerTerminal.max}, mean ${stormJson.noticesPerTerminal.mean.toFixed(1)}; ` +
      `the storm spans ${windows.toFixed(1)} windows of ${coalesceMs} ms`);
    say(`  as sent: smallest gap between two notices to one terminal ${stormJson.minSentGapMs?.toFixed(2) ?? '-'} ms; ` +
      `terminals with two notices within one window: ${stormJson.terminalsWithTwoSentInAWindow} of ${stormJson.terminalsNotified}`);
    const gaps = stormJson.receivedMinGapMs;
    if (gaps) say(`  as received (storm only): each terminal's two closest notices ${gaps.p50.toFixed(2)} ms apart (median over terminals), ${gaps.min.toFixed(2)} ms at the closest`);
    say(`  as received (storm only): terminals with two notices within ${coalesceMs} ms: ${stormJson.terminalsWithTwoReceivedInAWindow} of ${received.length} ` +
      '(network and scheduling jitter can bring two notices closer on arrival)');
    say(`  last change -> all ${int(o.clients)} terminals at the final version: ${caughtUp ? `${finalLast.toFixed(1)} ms` : 'NOT within the timeout'}`);
    if (crowd.closes.length > 0) say(`  ! ${crowd.closes.length} push connections closed during the run`);
    return {
      clients: o.clients, changes: o.changes, order, coalesceMs, connectMs, floorConnectMs: floor.connectMs,
      floorWsSend: { all: floorSendPairs, last: floorSendLast, missing: floorSend.missing },
      floor: { all: floorPairs, last: floorLast, missing: floor.missing },
      commitToNotice: hubPairs, commitToLastClient: hubLast, commitToFlushStart: flushStart, commitToLastHanded: stats(hubLoopMs), hubFlush: stats(hubFlushMs), crowdCpuPerNoticeUs: crowdCpu, floorLoop: stats(floor.loopMs), missing: hub.missing,
      gcInFanOuts: { hub: hubGc, floor: floorGc, floorWsSend: floorSendGc }, stealPercent: steal ?? null,
      goalP99Ms: GOAL_P99_MS, goalMet: hubLast.p99 <= GOAL_P99_MS,
      storm: stormJson, unexpectedCloses: crowd.closes.length,
    };
  } finally {
    offCommit();
    offSent();
    offFlush();
    gcPauses.stop();
    for (const f of floors) await f.close();
    await crowd.close();
  }
}
