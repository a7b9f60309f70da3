// npm run -s device-sim -- --url URL --key KEY --group NAME [--group NAME...] --once
// npm run -s device-sim -- --url URL --key KEY --group NAME [--group NAME...]
//                          --devices N --seconds S [--change-every MS] [--settle MS]
// Both: [--encoding float32|float16|int8 (default float32)] [--device-id ID (default device-sim-<pid>)]
//
// Simulated door terminals against a running server: the reference
// TerminalClient with the `ws` WebSocket and the global fetch. stdout gets
// exactly one JSON line; progress and diagnostics go to stderr.
//
// --once: one sync (one POST /api/service/sync/v1, plus any snapshot downloads), then
//   {"groups":{"NAME":{"group_id":N,"version":N,"faces":N}},"bytes":N}
//   read from the resulting local gallery (0s for a group the server does not have).
//
// --devices N --seconds S: N clients with ids <device-id>-0 ... -<N-1>, all on the
//   push channel. Device 0 syncs alone first, so a bad URL or key fails fast; the
//   S-second window starts once every device has connected and synced. A change
//   is a (group, version); its origin is
//   - with --change-every MS (needs the admin key): the moment the admin API
//     answered one of the sim's own changes, made every MS ms by unbinding and
//     rebinding one face of the first group. Change n is taken to produce
//     version (version before the window) + n, so nobody else may change that
//     group meanwhile; the sim warns if a notice shows somebody did. The face
//     is bound again before exit.
//   - otherwise: the first notice any device received naming that version.
//   Its latency runs from the origin to the end of the sync that brought the
//   LAST device to that version or later. After the window no new changes are
//   counted and the sim waits up to --settle ms (default 2000) for the devices
//   to catch up, then closes them and prints
//   {"devices","seconds","changes","latency_ms":{"p50","p99","max"},"incomplete","bytes","syncs","errors"}
//   (latencies null when no change reached every device).
//
// bytes: response bodies received by all devices, sync streams and snapshots
// alike (counted at fetch, since SyncReport.bytes leaves snapshots out).
// Exit code 2 for bad arguments, 1 when the first sync or an admin call fails.
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import {
  FEATURE_ENCODINGS,
  isFeatureEncoding,
  TerminalClient,
  type BodyLike,
  type FeatureEncoding,
  type FetchLike,
  type TerminalGallery,
} from '../device-protocol/index.js';

const USAGE = `usage: npm run -s device-sim -- --url URL --key KEY --group NAME [--group NAME...]
         (--once | --devices N --seconds S [--change-every MS] [--settle MS])
         [--encoding ${FEATURE_ENCODINGS.join('|')}] [--device-id ID]`;
/** Longest wait for all devices' first sync before the window starts anyway. */
const READY_TIMEOUT_MS = 30_000;
/** Device errors printed to stderr; later ones are only counted. */
const PRINTED_ERRORS = 10;

interface SimOptions {
  url: string;
  key: string;
  groups: string[];
  deviceId: string;
  encoding: FeatureEncoding;
  /** null: --once. */
  run: { devices: number; seconds: number; changeEveryMs: number | null; settleMs: number } | null;
}

class UsageError extends Error {}

// ---- arguments ---------------------------------------------------------------

function numberArg(name: string, raw: string | undefined, { integer = false, zero = false } = {}): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(value) || value < 0 || (value === 0 && !zero) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a ${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got "${raw}"`);
  }
  return value;
}

function parseOptions(args: string[]): SimOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        url: { type: 'string' },
        key: { type: 'string' },
        group: { type: 'string', multiple: true },
        once: { type: 'boolean', default: false },
        devices: { type: 'string' },
        seconds: { type: 'string' },
        'change-every': { type: 'string' },
        settle: { type: 'string', default: '2000' },
        encoding: { type: 'string', default: 'float32' },
        'device-id': { type: 'string', default: `device-sim-${process.pid}` },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  for (const name of ['url', 'key'] as const) if (!values[name]) throw new UsageError(`--${name} is required`);
  if (!values.group?.length) throw new UsageError('at least one --group is required');
  if (values.once === (values.devices !== undefined)) throw new UsageError('give exactly one of --once and --devices');
  if (!isFeatureEncoding(values.encoding)) throw new UsageError(`--encoding must be one of ${FEATURE_ENCODINGS.join(', ')}`);
  const base = {
    url: values.url!,
    key: values.key!,
    groups: [...new Set(values.group)],
    deviceId: values['device-id']!,
    encoding: values.encoding,
  };
  if (values.once) {
    for (const name of ['seconds', 'change-every'] as const) if (values[name] !== undefined) throw new UsageError(`--${name} goes with --devices, not --once`);
    return { ...base, run: null };
  }
  if (values.seconds === undefined) throw new UsageError('--devices needs --seconds');
  return {
    ...base,
    run: {
      devices: numberArg('devices', values.devices, { integer: true }),
      seconds: numberArg('seconds', values.seconds),
      changeEveryMs: values['change-every'] === undefined ? null : numberArg('change-every', values['change-every']),
      settleMs: numberArg('settle', values.settle, { zero: true }),
    },
  };
}

// ---- helpers -----------------------------------------------------------------

const log = (line: string) => process.stderr.write(`device-sim: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Nearest-rank percentile of ascending `sorted`; null when empty. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Polls until `done()` or `timeoutMs`; returns done(). */
async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await sleep(Math.min(25, deadline - performance.now()));
  return done();
}

/** The message with its causes ("fetch failed" alone does not say that the connection was refused). */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) {
    if (!parts.some((part) => part.includes(e.message))) parts.push(e.message);
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/** The global fetch, adding every body byte read to `counter.bytes`. */
function countingFetch(counter: { bytes: number }): FetchLike {
  return async (url, init) => {
    const res = await fetch(url, init);
    const raw = res.body;
    // Also offers cancel(), which discardBody prefers: it releases the connection unread.
    const body: (BodyLike & { cancel(): Promise<void> }) | null = raw && {
      getReader() {
        const reader = raw.getReader();
        return {
          async read() {
            const chunk = await reader.read();
            if (chunk.value) counter.bytes += chunk.value.byteLength;
            return chunk;
          },
          cancel: (reason?: unknown) => reader.cancel(reason),
        };
      },
      cancel: () => raw.cancel(),
    };
    return { status: res.status, ok: res.ok, headers: res.headers, body, text: () => res.text() };
  };
}

function newClient(options: SimOptions, deviceId: string, fetchBytes: FetchLike): TerminalClient {
  return new TerminalClient({
    baseUrl: options.url,
    key: options.key,
    deviceId,
    groups: options.groups,
    featureEncoding: options.encoding,
    clientVersion: 'device-sim',
    fetch: fetchBytes,
    createWebSocket: (url, init) => new WebSocket(url, { headers: init.headers }),
    // Monotonic, so latencies survive wall-clock steps.
    now: () => performance.now(),
  });
}

/** A FacePass admin call; throws unless the envelope says code 0. */
async function admin(options: SimOptions, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(options.url.replace(/\/+$/, '') + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const envelope = (await res.json().catch(() => ({}))) as { code?: number; message?: string; data?: Record<string, unknown> };
  if (!res.ok || envelope.code !== 0) throw new Error(`${path}: HTTP ${res.status} ${envelope.message ?? ''}`.trimEnd());
  return envelope.data ?? {};
}

/** Unbinds, then rebinds, ... one face of a group: every step is one new version. */
class Toggler {
  /** Steps started (answered or not), so a notice can be checked against them. */
  started = 0;
  committed = 0;
  #bound = true;

  private constructor(
    readonly options: SimOptions,
    readonly group: string,
    readonly face: string,
  ) {}

  static async create(options: SimOptions, group: string): Promise<Toggler> {
    const data = await admin(options, '/api/group/v1/query', { group_name: group }).catch((err: unknown) => {
      throw new Error(`--change-every needs the admin key and group "${group}" on the server`, { cause: err });
    });
    const first = (data.faces as unknown[] | undefined)?.[0];
    const face = typeof first === 'string' ? first : (first as { face_token?: string } | undefined)?.face_token;
    if (!face) throw new Error(`--change-every needs a face bound to group "${group}"`);
    return new Toggler(options, group, face);
  }

  /** One change; resolves with the time the admin API answered. */
  async step(): Promise<number> {
    this.started++;
    await admin(this.options, `/api/group/v1/${this.#bound ? 'unbind' : 'bind'}`, { group_name: this.group, face_token: this.face });
    const at = performance.now();
    this.#bound = !this.#bound;
    this.committed++;
    return at;
  }

  /** Leaves the group as it was found. */
  async restore(): Promise<void> {
    if (!this.#bound) await this.step();
  }
}

// ---- propagation -------------------------------------------------------------

interface Change {
  group: string;
  version: number;
  origin: number;
}

/** Changes and, per device and group, when syncs raised the local version. */
class Propagation {
  readonly changes = new Map<string, Change>();
  /** [device] -> group -> [version, finishedAt][], versions increasing. */
  readonly #raised: Map<string, Array<[number, number]>>[];

  constructor(devices: number) {
    this.#raised = Array.from({ length: devices }, () => new Map());
  }

  /** Keeps the first origin of a (group, version). */
  addChange(group: string, version: number, origin: number): void {
    const key = `${group}\0${version}`;
    if (!this.changes.has(key)) this.changes.set(key, { group, version, origin });
  }

  recordSync(device: number, gallery: TerminalGallery, finishedAt: number): void {
    for (const [name, group] of gallery.groups) {
      let history = this.#raised[device]!.get(name);
      if (!history) this.#raised[device]!.set(name, (history = []));
      // Only raises count: the earliest sync at or past a version is when the device got it.
      if (group.version > (history.at(-1)?.[0] ?? 0)) history.push([group.version, finishedAt]);
    }
  }

  /** When the last device got the change; undefined while some device lacks it. */
  completedAt(change: Change): number | undefined {
    let last = -Infinity;
    for (const groups of this.#raised) {
      const hit = groups.get(change.group)?.find(([version]) => version >= change.version);
      if (!hit) return undefined;
      last = Math.max(last, hit[1]);
    }
    return last;
  }

  outstanding(): number {
    return [...this.changes.values()].filter((change) => this.completedAt(change) === undefined).length;
  }

  /** Latencies of the completed changes, ascending, and how many did not complete. */
  latencies(): { sorted: number[]; incomplete: number } {
    const sorted: number[] = [];
    for (const change of this.changes.values()) {
      const done = this.completedAt(change);
      // Clamped: a device may finish its sync before the admin API's answer arrives here.
      if (done !== undefined) sorted.push(Math.max(0, done - change.origin));
    }
    return { sorted: sorted.sort((a, b) => a - b), incomplete: this.changes.size - sorted.length };
  }
}

// ---- modes -------------------------------------------------------------------

async function runOnce(options: SimOptions): Promise<void> {
  const counter = { bytes: 0 };
  const client = newClient(options, options.deviceId, countingFetch(counter));
  try {
    await client.syncOnce();
  } finally {
    await client.close();
  }
  const groups = Object.fromEntries(
    options.groups.map((name) => {
      const group = client.gallery.group(name)!;
      return [name, { group_id: group.groupId ?? 0, version: group.version, faces: group.faces.size }];
    }),
  );
  console.log(JSON.stringify({ groups, bytes: counter.bytes }));
}

async function runDevices(options: SimOptions, run: NonNullable<SimOptions['run']>): Promise<void> {
  const counter = { bytes: 0 };
  const fetchBytes = countingFetch(counter);
  const clients = Array.from({ length: run.devices }, (_, i) => newClient(options, `${options.deviceId}-${i}`, fetchBytes));
  const propagation = new Propagation(run.devices);
  const ready = new Set<number>();
  const firstGroup = options.groups[0]!;
  let syncs = 0;
  let errors = 0;
  let measuring = false;
  let toggler: Toggler | null = null;
  let baseVersion = 0;
  let warnedForeign = false;

  clients.forEach((client, i) => {
    client.on('synced', ({ trigger, finishedAt }) => {
      syncs++;
      if (trigger !== 'manual') ready.add(i);
      propagation.recordSync(i, client.gallery, finishedAt);
    });
    client.on('error', ({ error, during }) => {
      if (++errors <= PRINTED_ERRORS) log(`${options.deviceId}-${i}: ${during} error: ${describe(error)}`);
    });
    client.on('notification', ({ groups, receivedAt }) => {
      if (!measuring) return;
      for (const g of groups) {
        if (!toggler) propagation.addChange(g.groupName, g.version, receivedAt);
        else if (g.groupName === firstGroup && g.version > baseVersion + toggler.started && !warnedForeign) {
          warnedForeign = true;
          log(`warning: somebody else changes "${firstGroup}" (version ${g.version}); latencies may be attributed to the wrong change`);
        }
      }
    });
  });

  try {
    await clients[0]!.syncOnce();
    // Before the devices start, so a key without admin rights fails fast.
    if (run.changeEveryMs !== null) toggler = await Toggler.create(options, firstGroup);
    baseVersion = clients[0]!.gallery.group(firstGroup)!.version;

    const launched = performance.now();
    for (const client of clients) client.start();
    if (!(await waitFor(() => ready.size === run.devices, READY_TIMEOUT_MS))) {
      log(`warning: only ${ready.size} of ${run.devices} devices synced within ${READY_TIMEOUT_MS} ms; measuring anyway`);
    }
    log(`${ready.size} devices ready in ${Math.round(performance.now() - launched)} ms; measuring for ${run.seconds} s`);

    measuring = true;
    const end = performance.now() + run.seconds * 1000;
    if (toggler) {
      for (let next = performance.now() + run.changeEveryMs!; next < end; next += run.changeEveryMs!) {
        await sleep(next - performance.now());
        try {
          const at = await toggler.step();
          propagation.addChange(firstGroup, baseVersion + toggler.committed, at);
        } catch (err) {
          errors++;
          log(`change failed: ${describe(err)}`);
        }
      }
    }
    await sleep(end - performance.now());
    measuring = false;
    if (!(await waitFor(() => propagation.outstanding() === 0, run.settleMs))) {
      log(`${propagation.outstanding()} changes had not reached every device ${run.settleMs} ms after the window`);
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await toggler?.restore().catch((err: unknown) => log(`could not bind the face back: ${describe(err)}`));
  }

  const { sorted, incomplete } = propagation.latencies();
  const ms = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);
  console.log(
    JSON.stringify({
      devices: run.devices,
      seconds: run.seconds,
      changes: propagation.changes.size,
      latency_ms: { p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)), max: ms(sorted.at(-1) ?? null) },
      incomplete,
      bytes: counter.bytes,
      syncs,
      errors,
    }),
  );
}

// ---- main --------------------------------------------------------------------

let options: SimOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`device-sim: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
try {
  await (options.run ? runDevices(options, options.run) : runOnce(options));
} catch (err) {
  const status = (err as { details?: { status?: unknown } }).details?.status;
  log(`failed: ${describe(err)}${status === 401 ? ' (check --key)' : ''}`);
  process.exit(1);
}
