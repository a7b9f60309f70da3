// Wire constants of the sync protocol. Numeric values are the field and
// enum numbers of sync.proto and are append-only: never renumber, never reuse.

/** Protocol versions this implementation speaks (inclusive range). */
export const PROTOCOL_VERSION_MIN = 1;
export const PROTOCOL_VERSION_MAX = 1;
/** What a request without `info.protocol_version` is taken to speak. */
export const DEFAULT_PROTOCOL_VERSION = 1;

export const SYNC_PATH = '/api/service/sync/v1';
export const PUSH_PATH = '/api/service/push/v1';
/** Content type of a sync response body and of a snapshot body. */
export const SYNC_MEDIA_TYPE = 'application/x-protobuf';
export const DEVICE_ID_HEADER = 'X-Device-Id';

/**
 * Hard limit on one frame's protobuf bytes (excluding its length prefix).
 * Readers reject a longer frame as soon as they have read its length, before
 * buffering it, so a hostile or broken peer cannot make them allocate more.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * Size the writer aims for when it packs faces into batches: far enough below
 * MAX_FRAME_BYTES that a batch never comes near the limit, large enough that
 * the per-frame overhead is negligible (about 120 float32 512-d faces).
 */
export const TARGET_FRAME_BYTES = 256 * 1024;
/** Limit on one push-channel message; hellos and notices are small. */
export const MAX_PUSH_FRAME_BYTES = 64 * 1024;
/**
 * Frame (and PushFrame) field numbers below this are critical: an unknown one
 * makes the reader reject the stream. From this number on they are ancillary
 * and skipped, so optional frame types can be added without a version bump.
 */
export const FIRST_ANCILLARY_FRAME_TYPE = 64;

/** Sync stream frame types: the field numbers of `Frame.kind`. */
export const FrameType = {
  Header: 1,
  Group: 2,
  Faces: 3,
  Removed: 4,
  Trailer: 5,
  Error: 6,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Push channel message types: the field numbers of `PushFrame.kind`. */
export const PushFrameType = {
  ClientHello: 1,
  ServerHello: 2,
  Notice: 3,
  Error: 4,
} as const;
export type PushFrameType = (typeof PushFrameType)[keyof typeof PushFrameType];

/** `SyncKind` of sync.proto: what the terminal does with one group. */
export const SyncKind = {
  Unchanged: 1,
  Delta: 2,
  Full: 3,
  GroupGone: 4,
  Reset: 5,
} as const;
export type SyncKind = (typeof SyncKind)[keyof typeof SyncKind];

/** Feature encodings by their JSON name (the request's `info.feature_encoding`). */
export const FEATURE_ENCODINGS = ['float32', 'float16', 'int8'] as const;
export type FeatureEncoding = (typeof FEATURE_ENCODINGS)[number];
export const DEFAULT_FEATURE_ENCODING: FeatureEncoding = 'float32';

/** `FeatureEncoding` enum numbers of sync.proto, indexed like FEATURE_ENCODINGS. */
export const FeatureEncodingNumber: Readonly<Record<FeatureEncoding, number>> = {
  float32: 0,
  float16: 1,
  int8: 2,
};

export function isFeatureEncoding(value: unknown): value is FeatureEncoding {
  return typeof value === 'string' && (FEATURE_ENCODINGS as readonly string[]).includes(value);
}
