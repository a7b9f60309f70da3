// What every benchmark shares: argument checks, statistics, number
// formatting, the machine description printed first, and a server config
// for an in-process server on a temporary data dir.
import { randomBytes } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, totalmem } from 'node:os';
import { loopbackConfig, type ServerConfig } from '../server/config.js';

export const positive = (name: string, raw: string | undefined): number => {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer, got "${raw}"`);
  return v;
};

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** Runs and milliseconds of something counted (a model's session runs, a kind of resampling). */
export interface Tally { runs: number; ms: number }
/** Adds `tally` to the running sums of `key` in `into`. */
export function addTally(into: Record<string, Tally>, key: string, tally: Tally): void {
  const total = (into[key] ??= { runs: 0, ms: 0 });
  total.runs += tally.runs;
  total.ms += tally.ms;
}
export const mean = (xs: number[]) => sum(xs) / xs.length;
/** Nearest-rank percentile. */
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** A right-aligned table cell. */
export const col = (v: number | string, width: number, digits = 2) => (typeof v === 'number' ? v.toFixed(digits) : v).padStart(width);
/** An integer with thousands separators. */
export const int = (n: number) => Math.round(n).toLocaleString('en-US');

const FS_TYPES: Record<number, string> = { 0xef53: 'ext4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs' };

export interface MachineInfo {
  cpu: string | undefined;
  cores: number;
  node: string;
  platform: string;
  arch: string;
  /** Filesystem of the data dir (LMDB fsyncs on it), or its magic number when unknown. */
  fs: string | number;
  loadAtStart: number[];
}

export function machineInfo(dataDir: string): MachineInfo {
  const magic = statfsSync(dataDir).type;
  return {
    cpu: cpus()[0]?.model,
    cores: availableParallelism(),
    node: process.version,
    platform: platform(),
    arch: arch(),
    fs: FS_TYPES[magic] ?? magic,
    loadAtStart: loadavg(),
  };
}

/** All cores' CPU time so far, in ticks, and the part of it the hypervisor gave to other guests (Linux /proc/stat; undefined elsewhere). */
export function cpuTicks(): { total: number; steal: number } | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((x) => !Number.isFinite(x))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
  } catch {
    return undefined;
  }
}

/**
 * Percent of the machine's CPU time stolen by the hypervisor between two
 * cpuTicks() readings: on a shared virtual machine, the other guests' load,
 * which no process here can see (undefined when unknown).
 */
export function stealPercent(before: ReturnType<typeof cpuTicks>, after: ReturnType<typeof cpuTicks>): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

/** The "Machine" block every benchmark prints first. */
export function machineLines(info: MachineInfo): string[] {
  const fs = typeof info.fs === 'string' ? info.fs : `0x${info.fs.toString(16)}`;
  return [
    'Machine',
    `  cpu: ${info.cpu ?? 'unknown'}; cores: ${info.cores} available (${cpus().length} listed)`,
    `  node ${info.node} on ${info.platform}/${info.arch}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `  data dir filesystem: ${fs} (LMDB fsyncs every write batch)`,
    `  load average at start: ${info.loadAtStart.map((x) => x.toFixed(2)).join(', ')}`,
  ];
}

/** An in-process server on 127.0.0.1, any free port, silent, with fresh random keys. */
export function benchServerConfig(dataDir: string, overrides: Partial<ServerConfig> = {}): ServerConfig {
  return loopbackConfig(dataDir, { adminKey: randomBytes(16).toString('hex'), deviceKey: randomBytes(16).toString('hex'), ...overrides });
}
