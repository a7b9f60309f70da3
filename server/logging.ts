// The one place that decides what a log line may hold. Keys travel in
// request headers (Authorization, X-Api-Key), and Node's HTTP parser errors
// carry the raw bytes of the request they failed on (`err.rawPacket`),
// headers included. So: errors are serialized without raw bytes, headers or
// bodies (also inside their causes), and any header object that does get
// logged has its credentials censored by pino's `redact`.
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/** Credential-bearing fields wherever a request or headers object is logged. */
export const REDACTED_PATHS: readonly string[] = [
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.cookie',
  'key',
  '*.key',
  'deviceKey',
  '*.deviceKey',
];

/** Error properties that can hold request bytes or headers; never logged. */
const UNSAFE_ERROR_FIELDS = new Set(['rawPacket', 'headers', 'body', 'req', 'request', 'res', 'response', 'socket', 'raw']);
const MAX_CAUSE_DEPTH = 5;

const isBytes = (value: unknown) => value instanceof Uint8Array || value instanceof ArrayBuffer;

/**
 * pino's error serializer, minus anything that can carry a request's raw
 * bytes or headers; causes are serialized the same way (nested, bounded).
 */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return err;
  const serialized = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const safe: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(serialized)) {
    if (name === 'raw' || UNSAFE_ERROR_FIELDS.has(name) || isBytes(value)) continue;
    safe[name] = value;
  }
  if (err.cause instanceof Error && depth < MAX_CAUSE_DEPTH) safe.cause = serializeError(err.cause, depth + 1);
  return safe;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout by default (tests pass a memory stream). */
  destination?: DestinationStream;
}

/** The server's logger: the level, the error serializer and the redaction above. */
export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    serializers: { err: serializeError, error: serializeError },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** Node HTTP parser and socket errors are the client's fault (bad framing, reset), not the server's. */
export function isClientFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('HPE_') || code === 'ECONNRESET' || code === 'ECONNABORTED' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE');
}
