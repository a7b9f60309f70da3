// One typed configuration object. Defaults live here and only here; the
// environment is read only by `configFromEnv`, called from the entry point,
// so tests build configs directly and can run several servers at once.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { CompactionPolicy } from '../storage/store.js';
import type { DecodeLimits } from '../models/engine.js';

export type AuthMode = 'on' | 'off';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** FacePass face-add admission (spec table, 新增Face). */
export interface AdmissionPolicy {
  /** Smallest accepted face box side, px (FaceMin: both sides >= 100). */
  minFaceSize: number;
  /** Largest |yaw|, |pitch|, |roll|, degrees. */
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
  /** Largest blur, [0,1]. */
  maxBlur: number;
  /** Accepted mean brightness of the face region, inclusive. */
  minBrightness: number;
  maxBrightness: number;
  /** Largest brightness standard deviation of the face region. */
  maxBrightnessStd: number;
}

export interface SyncPolicy {
  /** FULL copies of groups with more faces than this come as snapshot files. Env SNAPSHOT_THRESHOLD, default 2000. */
  snapshotThreshold: number;
  /** How long a snapshot stays downloadable after its group changed, ms. Env SNAPSHOT_RETAIN_MINUTES, default 10. */
  snapshotRetainMs: number;
  /** Memory for encoded deltas and small full copies shared between terminals. Env SYNC_CACHE_MB, default 64; 0 = off. */
  bodyCacheBytes: number;
  /** Devices whose last sync is kept for the status query; beyond it the longest-silent are dropped. Env SYNC_STATUS_MAX_DEVICES, default 10000. */
  statusMaxDevices: number;
}

/** The web console (/console). */
export interface ConsolePolicy {
  /** A console session's lifetime, ms. Env CONSOLE_SESSION_MINUTES, default 480 (8 hours). */
  sessionTtlMs: number;
  /** Most console sessions at once; signing in beyond it ends the oldest. Default 100. */
  maxSessions: number;
  /** A terminal that has not synced for this long is marked stale (unless connected and current), ms. Env TERMINAL_STALE_MINUTES, default 60. */
  terminalStaleMs: number;
}

/** One API key / secret key pair of the Baidu cloud paths, and the appid (face library) its tokens open. */
export interface BaiduCredential {
  apiKey: string;
  secretKey: string;
  appid: string;
}

/** One app of the SID vendor API: the app_id / app_secret every body carries, and the face library (appid) it works on. */
export interface SidCredential {
  appId: string;
  appSecret: string;
  appid: string;
}

export interface ServerConfig {
  /** TCP port; 0 picks a free one (tests). Env PORT, default 8300. */
  port: number;
  /** Interface to bind. Env HOST, default 0.0.0.0. */
  host: string;
  /** Where the LMDB store and the keys live. Env DATA_DIR, default ./data. */
  dataDir: string;
  /** Model folder with its own manifest.json; undefined = the installed models/weights. Env MODEL_DIR. */
  modelDir: string | undefined;
  /**
   * Worker threads running the face engine, each with its own ONNX sessions,
   * so inference never runs on the event loop. Env ENGINE_WORKERS, default:
   * number of cores; 0 = the engine on the main thread (tools, tests).
   */
  engineWorkers: number;
  /** ONNX intra-op threads per session. Env ENGINE_THREADS, default: cores / workers (at least 1), or all cores with no workers. */
  engineThreads: number;
  /** Photos that may wait for a free engine worker; beyond it face calls answer "busy" at once. Env ENGINE_QUEUE, default 8 per worker. */
  engineQueue: number;
  /** Longest one photo's analysis may take, queue wait included; then it is abandoned (FacePass 503). Env ENGINE_DEADLINE_MS, default 30000. */
  engineDeadlineMs: number;
  /**
   * Scheduling niceness (Linux) of the engine worker threads and the ONNX
   * threads they start, so that with every core busy analysing photos the
   * event loop still gets a core when a request comes in. Env ENGINE_NICE,
   * default 10; 0 = the same priority as the event loop.
   */
  engineNice: number;
  /** Stored photos a background model upgrade re-extracts at once (the rest of the pool serves requests). Env MODEL_UPGRADE_CONCURRENCY, default 1. */
  modelUpgradeConcurrency: number;
  /** Env LOG_LEVEL, default info. */
  logLevel: LogLevel;
  /** Env AUTH: 'on' (default) or 'off' (legacy FacePass clients on a trusted network). */
  auth: AuthMode;
  /** Env ADMIN_KEY; when unset a key is generated once and kept in dataDir/admin.key. */
  adminKey: string | undefined;
  /** Env DEVICE_KEY; when unset a key is generated once and kept in dataDir/device.key. */
  deviceKey: string | undefined;
  /** Largest request body accepted at all, bytes; checked before parsing. Default 8 MiB. */
  maxRequestBytes: number;
  /** Image limits for FacePass face add (spec: <= 4 MB, <= 4096*4096 pixels, png/jpg). */
  faceAddImage: DecodeLimits;
  admission: AdmissionPolicy;
  /** Images of compare and recognize (spec 人脸比对: jpg/png/bmp, >= 50x50, <= 2560*2560 by area; 4 MB each). */
  recognitionImage: DecodeLimits;
  /** Faces looked at per recognize image, largest first (bounds the work of one request). */
  maxFacesPerImage: number;
  /**
   * Change-log compaction bounds, and how often to run it (ms; 0 = never).
   * Env CHANGELOG_KEEP (changes per group kept whole, default 10000),
   * CHANGELOG_MAX_AGE_HOURS (default 720 = 30 days), COMPACTION_INTERVAL_MINUTES (default 60).
   */
  compaction: CompactionPolicy & { intervalMs: number };
  /** Terminal sync (PROTOCOL.md §6, §11). */
  sync: SyncPolicy;
  console: ConsolePolicy;
  /**
   * Credentials for Baidu's cloud paths (/oauth/2.0/token, /rest/2.0/face/v3/...).
   * Env BAIDU_CREDENTIALS=api_key:secret_key:appid,... Default none (the cloud paths then refuse every token).
   */
  baiduCredentials: BaiduCredential[];
  /**
   * Apps of the SID vendor API (/staticdb/..., /liveness/action, /face/...).
   * Env SID_CREDENTIALS=app_id:app_secret[:appid],...; appid `default` when not given.
   * Default none (every SID request is then refused).
   */
  sidCredentials: SidCredential[];
  /** The group a SID call without groupId works on (1:N without groupId searches every group). Env SID_DEFAULT_GROUP, default `default`. */
  sidDefaultGroup: string;
  /** How long SIGTERM waits for in-flight requests before closing anyway, ms. */
  shutdownGraceMs: number;
  /**
   * Groups with at least this many faces are searched with the approximate
   * (inverted lists over k-means centroids) index, persisted under DATA_DIR/index; smaller ones exactly.
   * Env SEARCH_APPROX_MIN_FACES, default 100000; 0 = always exact.
   */
  searchApproxMinFaces: number;
}

const MiB = 1024 * 1024;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export function defaultConfig(): ServerConfig {
  return {
    port: 8300,
    host: '0.0.0.0',
    dataDir: resolve('data'),
    modelDir: undefined,
    engineWorkers: availableParallelism(),
    engineThreads: 1,
    engineQueue: 8 * availableParallelism(),
    engineDeadlineMs: 30_000,
    engineNice: 10,
    modelUpgradeConcurrency: 1,
    logLevel: 'info',
    auth: 'on',
    adminKey: undefined,
    deviceKey: undefined,
    maxRequestBytes: 8 * MiB,
    recognitionImage: { maxBytes: 4 * MiB, maxPixels: 2560 * 2560, minSide: 50, formats: ['jpeg', 'png', 'bmp'] },
    maxFacesPerImage: 10,
    // minSide: spec 支持最小尺寸, >= 100*100 (an image smaller than FaceMin cannot hold an admissible face).
    faceAddImage: { maxBytes: 4 * MiB, maxPixels: 4096 * 4096, minSide: 100, formats: ['jpeg', 'png'] },
    admission: {
      minFaceSize: 100,
      maxYaw: 20,
      maxPitch: 20,
      maxRoll: 20,
      maxBlur: 0.2,
      minBrightness: 75,
      maxBrightness: 210,
      maxBrightnessStd: 80,
    },
    compaction: { keepChangesPerGroup: 10_000, maxAgeMs: 30 * 24 * HOUR, intervalMs: HOUR },
    sync: { snapshotThreshold: 2000, snapshotRetainMs: 10 * MINUTE, bodyCacheBytes: 64 * MiB, statusMaxDevices: 10_000 },
    console: { sessionTtlMs: 8 * HOUR, maxSessions: 100, terminalStaleMs: HOUR },
    baiduCredentials: [],
    sidCredentials: [],
    sidDefaultGroup: 'default',
    shutdownGraceMs: 10_000,
    searchApproxMinFaces: 100_000,
  };
}

/** A server on 127.0.0.1, any free port, logging nothing: for tests, benchmarks and tools that start one in-process. */
export function loopbackConfig(dataDir: string, overrides: Partial<ServerConfig> = {}): ServerConfig {
  return { ...defaultConfig(), port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent', ...overrides };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

/** Reads the documented environment variables over the defaults; throws ConfigError on nonsense. */
export function configFromEnv(env: NodeJS.ProcessEnv): ServerConfig {
  const config = defaultConfig();
  config.port = intFrom(env, 'PORT', config.port, 0, 65535);
  config.host = env.HOST || config.host;
  config.dataDir = resolve(env.DATA_DIR || config.dataDir);
  config.modelDir = env.MODEL_DIR ? resolve(env.MODEL_DIR) : undefined;
  config.engineWorkers = intFrom(env, 'ENGINE_WORKERS', config.engineWorkers, 0, 64);
  const cores = availableParallelism();
  config.engineThreads = intFrom(env, 'ENGINE_THREADS', config.engineWorkers > 0 ? Math.max(1, Math.floor(cores / config.engineWorkers)) : cores, 1, 256);
  config.engineQueue = intFrom(env, 'ENGINE_QUEUE', 8 * Math.max(1, config.engineWorkers), 1, 100_000);
  config.engineDeadlineMs = intFrom(env, 'ENGINE_DEADLINE_MS', config.engineDeadlineMs, 100, 3_600_000);
  config.engineNice = intFrom(env, 'ENGINE_NICE', config.engineNice, 0, 19);
  config.modelUpgradeConcurrency = intFrom(env, 'MODEL_UPGRADE_CONCURRENCY', config.modelUpgradeConcurrency, 1, 64);

  const logLevel = (env.LOG_LEVEL || config.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  config.logLevel = logLevel;

  const auth = (env.AUTH || 'on').toLowerCase();
  if (auth !== 'on' && auth !== 'off') throw new ConfigError(`AUTH must be "on" or "off", got "${env.AUTH}"`);
  config.auth = auth;
  config.adminKey = env.ADMIN_KEY || undefined;
  config.deviceKey = env.DEVICE_KEY || undefined;

  const { compaction, sync } = config;
  compaction.keepChangesPerGroup = intFrom(env, 'CHANGELOG_KEEP', compaction.keepChangesPerGroup, 0, 1e9);
  compaction.maxAgeMs = intFrom(env, 'CHANGELOG_MAX_AGE_HOURS', compaction.maxAgeMs / HOUR, 0, 1e6) * HOUR;
  compaction.intervalMs = intFrom(env, 'COMPACTION_INTERVAL_MINUTES', compaction.intervalMs / MINUTE, 0, 1e6) * MINUTE;
  sync.snapshotThreshold = intFrom(env, 'SNAPSHOT_THRESHOLD', sync.snapshotThreshold, 0, 1e9);
  sync.snapshotRetainMs = intFrom(env, 'SNAPSHOT_RETAIN_MINUTES', sync.snapshotRetainMs / MINUTE, 1, 1e6) * MINUTE;
  sync.bodyCacheBytes = intFrom(env, 'SYNC_CACHE_MB', sync.bodyCacheBytes / MiB, 0, 1e6) * MiB;
  sync.statusMaxDevices = intFrom(env, 'SYNC_STATUS_MAX_DEVICES', sync.statusMaxDevices, 1, 1e7);
  config.console.sessionTtlMs = intFrom(env, 'CONSOLE_SESSION_MINUTES', config.console.sessionTtlMs / MINUTE, 1, 1e6) * MINUTE;
  config.console.terminalStaleMs = intFrom(env, 'TERMINAL_STALE_MINUTES', config.console.terminalStaleMs / MINUTE, 1, 1e6) * MINUTE;
  config.baiduCredentials = baiduCredentialsFrom(env.BAIDU_CREDENTIALS);
  config.sidCredentials = sidCredentialsFrom(env.SID_CREDENTIALS);
  config.sidDefaultGroup = env.SID_DEFAULT_GROUP || config.sidDefaultGroup;
  config.searchApproxMinFaces = intFrom(env, 'SEARCH_APPROX_MIN_FACES', config.searchApproxMinFaces, 0, 1e9);
  validateConfig(config);
  return config;
}

const APPID = /^[A-Za-z0-9_]{1,48}$/;

/** `api_key:secret_key:appid` entries, comma separated; each key and secret without ':' or ','. */
export function baiduCredentialsFrom(raw: string | undefined): BaiduCredential[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((entry, i) => {
    const parts = entry.trim().split(':');
    if (parts.length !== 3 || parts.some((part) => part === '')) {
      throw new ConfigError(`BAIDU_CREDENTIALS entry ${i + 1} must be api_key:secret_key:appid`);
    }
    const [apiKey, secretKey, appid] = parts as [string, string, string];
    return { apiKey, secretKey, appid };
  });
}

/** `app_id:app_secret[:appid]` entries, comma separated; appid `default` when left out. */
export function sidCredentialsFrom(raw: string | undefined): SidCredential[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((entry, i) => {
    const parts = entry.trim().split(':');
    if ((parts.length !== 2 && parts.length !== 3) || parts.some((part) => part === '')) {
      throw new ConfigError(`SID_CREDENTIALS entry ${i + 1} must be app_id:app_secret or app_id:app_secret:appid`);
    }
    const [appId, appSecret, appid = 'default'] = parts as [string, string, string?];
    return { appId, appSecret, appid };
  });
}

const MIN_KEY_LENGTH = 16;

/** Contradictions fail at start with a clear message. */
export function validateConfig(config: ServerConfig): void {
  if (config.auth === 'off' && (config.adminKey || config.deviceKey)) {
    throw new ConfigError('AUTH=off contradicts ADMIN_KEY/DEVICE_KEY: unset the keys or turn auth on');
  }
  for (const [name, key] of [['ADMIN_KEY', config.adminKey], ['DEVICE_KEY', config.deviceKey]] as const) {
    if (key !== undefined && key.length < MIN_KEY_LENGTH) {
      throw new ConfigError(`${name} must be at least ${MIN_KEY_LENGTH} characters`);
    }
  }
  if (config.adminKey && config.adminKey === config.deviceKey) {
    throw new ConfigError('ADMIN_KEY and DEVICE_KEY must differ: a terminal must not hold the admin key');
  }
  const apiKeys = new Set<string>();
  for (const credential of config.baiduCredentials) {
    if (!APPID.test(credential.appid)) {
      throw new ConfigError(`BAIDU_CREDENTIALS: appid "${credential.appid}" must be 1-48 characters of [A-Za-z0-9_]`);
    }
    if (apiKeys.has(credential.apiKey)) throw new ConfigError(`BAIDU_CREDENTIALS: api key "${credential.apiKey}" appears twice`);
    apiKeys.add(credential.apiKey);
  }
  const appIds = new Set<string>();
  for (const credential of config.sidCredentials) {
    if (!APPID.test(credential.appid)) {
      throw new ConfigError(`SID_CREDENTIALS: appid "${credential.appid}" must be 1-48 characters of [A-Za-z0-9_]`);
    }
    if (appIds.has(credential.appId)) throw new ConfigError(`SID_CREDENTIALS: app_id "${credential.appId}" appears twice`);
    appIds.add(credential.appId);
  }
  if (!APPID.test(config.sidDefaultGroup)) {
    throw new ConfigError(`SID_DEFAULT_GROUP "${config.sidDefaultGroup}" must be 1-48 characters of [A-Za-z0-9_]`);
  }
  if (config.faceAddImage.maxBytes > config.maxRequestBytes) {
    throw new ConfigError('the face-add image limit cannot exceed the request body limit');
  }
}
