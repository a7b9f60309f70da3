// Tuning knobs of the push hub. Defaults live here and only here; callers
// pass a partial object that is merged over them.

export interface PushHubOptions {
  /**
   * Interval of the hub-wide ping sweep, ms. A connection that has not
   * answered the previous sweep's ping is terminated, so a dead peer is
   * dropped after between one and two intervals. 0 disables heartbeats.
   */
  heartbeatMs: number;
  /** A connection that has not sent its ClientHello within this time is closed (4400), ms. */
  helloTimeoutMs: number;
  /**
   * Coalescing window, ms. The first change a connection hears of after a
   * quiet spell is sent at once (a microtask after the commit's callbacks,
   * which still merges changes committed together); changes arriving within this time after a
   * notice are held and sent together when it ends, so a storm costs each
   * connection at most one notice per window, with the latest version of
   * each group. 0 = every turn. The protocol allows delays up to 200 ms.
   */
  coalesceMs: number;
  /**
   * A connection whose socket still has more than this many bytes queued is
   * skipped by a flush and retried later; its pending notice keeps merging
   * meanwhile, so a slow reader costs at most one entry per group it holds.
   */
  maxBufferedBytes: number;
  /** Upgrades beyond this many open connections are refused with 503. */
  maxConnections: number;
  /** close(): how long closing sockets may take their closing handshake before they are terminated, ms. */
  closeGraceMs: number;
}

export const DEFAULT_PUSH_OPTIONS: Readonly<PushHubOptions> = Object.freeze({
  heartbeatMs: 30_000,
  helloTimeoutMs: 10_000,
  coalesceMs: 25,
  maxBufferedBytes: 64 * 1024,
  maxConnections: 20_000,
  closeGraceMs: 2_000,
});

/** Defaults overlaid with the given values; undefined entries keep the default. */
export function resolvePushOptions(options: Partial<PushHubOptions> = {}): PushHubOptions {
  const resolved = { ...DEFAULT_PUSH_OPTIONS };
  for (const key of Object.keys(resolved) as (keyof PushHubOptions)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`push option ${key} must be a finite number >= 0, got ${value}`);
    resolved[key] = value;
  }
  return resolved;
}
