// Every failure of this module is a SyncError with a stable `code`, created
// by syncError(). Callers branch on the code, never on the message text.

export const SyncErrorCode = {
  /** The stream ended before its trailer, or inside a frame. */
  Truncated: 'SYNC_ERR_TRUNCATED',
  /** The trailer's CRC-32 differs from the bytes received. */
  CrcMismatch: 'SYNC_ERR_CRC_MISMATCH',
  /** The trailer's counts differ from the frames received. */
  CountMismatch: 'SYNC_ERR_COUNT_MISMATCH',
  /** A frame's length prefix exceeds the limit (detected before buffering it). */
  FrameTooLarge: 'SYNC_ERR_FRAME_TOO_LARGE',
  /** A length prefix is not a canonical varint of at most 5 bytes. */
  BadVarint: 'SYNC_ERR_BAD_VARINT',
  /** A frame is empty, not valid protobuf, sets more than one type, or holds an invalid value. */
  BadFrame: 'SYNC_ERR_BAD_FRAME',
  /** A frame has an unknown critical type (field number below 64). */
  UnknownFrame: 'SYNC_ERR_UNKNOWN_FRAME',
  /** A frame is valid but not allowed where it is (e.g. faces before any group). */
  BadOrder: 'SYNC_ERR_BAD_ORDER',
  /** Bytes follow the trailer. */
  TrailingData: 'SYNC_ERR_TRAILING_DATA',
  /** No protocol version both sides speak. */
  ProtocolVersion: 'SYNC_ERR_PROTOCOL_VERSION',
  /** A feature has the wrong length for its encoding and dimension, or non-finite values. */
  BadFeature: 'SYNC_ERR_BAD_FEATURE',
  /** Frames are each valid but contradict each other or the request (duplicate group, snapshot not matching its reference...). */
  Inconsistent: 'SYNC_ERR_INCONSISTENT',
  /** The server sent a StreamError frame: it failed mid-response. */
  Server: 'SYNC_ERR_SERVER',
  /** The HTTP exchange failed: non-2xx status or unexpected content type. */
  Http: 'SYNC_ERR_HTTP',
  /** fetch or reading a body failed (connection reset, DNS...). */
  Network: 'SYNC_ERR_NETWORK',
  /** A snapshot could not be downloaded completely within the allowed attempts. */
  Snapshot: 'SYNC_ERR_SNAPSHOT',
  /** A sync request body is malformed; `details.args` names the offending fields. */
  BadRequest: 'SYNC_ERR_BAD_REQUEST',
  /** The gallery changed while a sync was being applied; nothing was committed. */
  Conflict: 'SYNC_ERR_CONFLICT',
  /** The client was closed while the operation ran. */
  Closed: 'SYNC_ERR_CLOSED',
  /** The key may not act as the device it names (push close 4401). */
  Unauthorized: 'SYNC_ERR_UNAUTHORIZED',
} as const;
export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

export class SyncError extends Error {
  readonly code: SyncErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SyncErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncError';
    this.code = code;
    this.details = details;
  }
}

/** The one place SyncErrors are made. */
export function syncError(
  code: SyncErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): SyncError {
  return new SyncError(code, message, details, cause === undefined ? undefined : { cause });
}

export const isSyncError = (err: unknown): err is SyncError => err instanceof SyncError;
