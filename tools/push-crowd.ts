// A crowd of raw push-channel terminals in a process of its own, driven by
// bench:sync over IPC (child_process.fork). Run apart from the server so the
// terminals' own message handling does not queue on the server's event loop
// (real terminals are other machines), and so the bench times what the
// server does. Not a tool to run by hand. The terminals are raw clients
// (tools/raw-ws-client.ts): a receipt is timed when its bytes are read, and
// 1,000 of them cost the crowd's core as little as Node allows, so the later
// terminals' times are not delayed by the crowd's own handling of the earlier.
//
//   argv: <push url> <key> <group name> <count> <device id prefix>
//   -> { type: 'ready', connectMs }         all connected and answered (ServerHello)
//   <- { cmd: 'await', version }            -> { type: 'complete', version } once every terminal has had a
//                                           notice naming `version` or a later one
//   -> { type: 'error', message }           connecting failed; the process exits
//   <- { cmd: 'arrivals', versions }        -> { type: 'arrivals', at: { [version]: (ms | null)[] },
//                                                cpu: { userUs, systemUs, notices } }  (the crowd's CPU since 'ready')
//   <- { cmd: 'notices', window, since }    -> { type: 'notices', perTerminal: { notices, minGapMs, maxInWindow }[] }
//                                           (notices received at or after `since`, absolute ms)
//   <- { cmd: 'exit' }                      closes every socket and exits
//
// Times are absolute milliseconds, performance.timeOrigin + performance.now(),
// comparable with the parent's to well under a millisecond.
import { performance } from 'node:perf_hooks';
import { RawWsClient } from './raw-ws-client.js';
import { decodePushFrame, encodePushFrame, PROTOCOL_VERSION_MAX, PushFrameType } from '../device-protocol/index.js';

/** Clients connect in waves of this many, so the listen backlog never overflows. */
const CONNECT_WAVE = 100;

type Command =
  | { cmd: 'await'; version: number }
  | { cmd: 'arrivals'; versions: number[] }
  | { cmd: 'notices'; window: number; since: number }
  | { cmd: 'exit' };

const [url, key, group, countArg, prefix] = process.argv.slice(2);
const count = Number(countArg);
const send = (message: unknown) => process.send!(message);
const now = () => performance.timeOrigin + performance.now();

/** Per version: when each terminal first received a notice naming it or a later version. */
const arrivals = new Map<number, Float64Array>();
/** Per terminal: when each of its notices arrived. */
const noticeTimes: number[][] = Array.from({ length: count }, () => []);
/** Highest version each terminal has heard of. */
const heard = new Float64Array(count);
/** The version the parent waits for, and how many terminals have heard of it (or a later one). */
let awaited = { version: Infinity, reached: 0 };
const sockets: RawWsClient[] = [];
const target = new URL(url!);
/** Every read of every terminal lands here and is consumed before the next (one thread). */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
let closing = false;
/** CPU time when every terminal was connected: the receivers' cost is counted from there. */
let cpuAtReady: NodeJS.CpuUsage | undefined;

function onNotice(i: number, version: number, at: number): void {
  noticeTimes[i]!.push(at);
  const before = heard[i]!;
  if (version <= before) return;
  heard[i] = version;
  let a = arrivals.get(version);
  if (!a) arrivals.set(version, (a = new Float64Array(count).fill(NaN)));
  a[i] = at;
  if (before < awaited.version && version >= awaited.version && ++awaited.reached === count) {
    send({ type: 'complete', version: awaited.version });
  }
}

/**
 * The last message decoded, by its bytes: a fan-out brings every terminal the
 * same notice, and comparing 20-odd bytes is cheaper than decoding them again
 * (the crowd's own cost delays the terminals read after it).
 */
let lastDecoded: { bytes: Uint8Array; message: ReturnType<typeof decodePushFrame> } | null = null;

function decode(buf: Buffer, start: number, end: number): ReturnType<typeof decodePushFrame> {
  if (lastDecoded !== null && sameBytes(lastDecoded.bytes, buf, start, end)) return lastDecoded.message;
  // A copy: `buf` may be the shared read buffer.
  const bytes = Uint8Array.prototype.slice.call(buf, start, end);
  const message = decodePushFrame(bytes);
  lastDecoded = { bytes, message };
  return message;
}

function sameBytes(a: Uint8Array, buf: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== buf[start + k]) return false;
  return true;
}

function connect(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let ready = false;
    const ws: RawWsClient = new RawWsClient(
      target.hostname,
      Number(target.port),
      target.pathname,
      { Authorization: `Bearer ${key}` },
      readBuffer,
      {
        open: () =>
          ws.sendBinary(
            encodePushFrame({
              type: PushFrameType.ClientHello,
              hello: { protocolVersion: PROTOCOL_VERSION_MAX, deviceId: `${prefix}-${i}`, groups: [{ groupName: group!, groupId: 0, version: 0 }] },
            }),
          ),
        message: (buf, start, end, at) => {
          const message = decode(buf, start, end);
          if (message?.type === PushFrameType.ServerHello) {
            ready = true;
            heard[i] = message.hello.groups[0]?.version ?? 0;
            resolve();
          } else if (message?.type === PushFrameType.Notice) {
            for (const g of message.groups) if (g.groupName === group) onNotice(i, g.version, at);
          }
        },
        close: (code, reason) => {
          if (!ready) reject(new Error(`push channel closed before ServerHello (${code} ${reason})`));
          else if (!closing) send({ type: 'closed', terminal: i, code });
        },
      },
      now,
    );
    sockets.push(ws);
  });
}

function noticeStats(window: number, since: number) {
  return noticeTimes.map((all) => {
    const times = all.filter((t) => t >= since);
    let minGapMs: number | null = null;
    let maxInWindow = times.length > 0 ? 1 : 0;
    for (let k = 1; k < times.length; k++) {
      const gap = times[k]! - times[k - 1]!;
      minGapMs = minGapMs === null ? gap : Math.min(minGapMs, gap);
    }
    // Largest number of notices inside any span of `window` ms (two pointers).
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while (times[hi]! - times[lo]! >= window) lo++;
      maxInWindow = Math.max(maxInWindow, hi - lo + 1);
    }
    return { notices: times.length, minGapMs, maxInWindow };
  });
}

process.on('message', (message: Command) => {
  if (message.cmd === 'await') {
    awaited = { version: message.version, reached: heard.reduce((n, v) => n + (v >= message.version ? 1 : 0), 0) };
    if (awaited.reached === count) send({ type: 'complete', version: message.version });
  } else if (message.cmd === 'arrivals') {
    const at: Record<number, Array<number | null>> = {};
    for (const v of message.versions) at[v] = Array.from(arrivals.get(v) ?? [], (x) => (Number.isNaN(x) ? null : x));
    const cpu = process.cpuUsage(cpuAtReady);
    send({ type: 'arrivals', at, cpu: { userUs: cpu.user, systemUs: cpu.system, notices: noticeTimes.reduce((n, t) => n + t.length, 0) } });
  } else if (message.cmd === 'notices') {
    send({ type: 'notices', perTerminal: noticeStats(message.window, message.since) });
  } else if (message.cmd === 'exit') {
    closing = true;
    for (const ws of sockets) ws.terminate();
    process.disconnect();
  }
});

try {
  const started = now();
  for (let wave = 0; wave < count; wave += CONNECT_WAVE) {
    await Promise.all(Array.from({ length: Math.min(CONNECT_WAVE, count - wave) }, (_, k) => connect(wave + k)));
  }
  cpuAtReady = process.cpuUsage();
  send({ type: 'ready', connectMs: now() - started });
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  for (const ws of sockets) ws.terminate();
  process.disconnect();
}
