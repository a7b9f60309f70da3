// Public surface of the device protocol: what the server (encoding side)
// and the terminal client (decoding side) use. Everything else is internal.
export {
  DEFAULT_FEATURE_ENCODING,
  DEFAULT_PROTOCOL_VERSION,
  DEVICE_ID_HEADER,
  FEATURE_ENCODINGS,
  FIRST_ANCILLARY_FRAME_TYPE,
  FrameType,
  isFeatureEncoding,
  MAX_FRAME_BYTES,
  MAX_PUSH_FRAME_BYTES,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  PUSH_PATH,
  PushFrameType,
  SYNC_MEDIA_TYPE,
  SYNC_PATH,
  SyncKind,
  TARGET_FRAME_BYTES,
  type FeatureEncoding,
} from './constants.js';
export { CloseCode, SLOW_RETRY_CLOSE_CODES } from './close-codes.js';
export {
  checkClientHello,
  isValidDeviceId,
  isValidGroupName,
  MAX_DEVICE_ID_LENGTH,
  MAX_GROUP_NAME_LENGTH,
  MAX_GROUPS_PER_REQUEST,
  MAX_INFO_STRING_LENGTH,
} from './limits.js';
export { isSyncError, SyncError, SyncErrorCode } from './errors.js';
export {
  digestAdd,
  digestFromHex,
  digestOf,
  digestRemove,
  digestToHex,
  EMPTY_DIGEST,
  faceTokenHash,
} from './digest.js';
export { decodeFeature, encodedFeatureLength, encodeFeature } from './features.js';
export type {
  FaceRecord,
  Frame,
  GroupResult,
  SnapshotRef,
  StreamErrorInfo,
  StreamHeader,
  Trailer,
  WireFrame,
} from './frames.js';
export type { StreamCounts } from './order.js';
export { SyncStreamWriter, type HeaderInput, type WriterOptions } from './writer.js';
export { GroupBodyEncoder, type EncodedGroupBody } from './group-body.js';
export { decodeSyncStream, SyncStreamDecoder, type DecoderOptions, type SyncFrame } from './decoder.js';
export {
  closeCodeFor,
  decodePushFrame,
  encodePushFrame,
  type ClientHello,
  type GroupVersion,
  type PushMessage,
  type ServerHello,
} from './push.js';
export {
  buildSyncRequest,
  negotiateProtocolVersion,
  parseSyncRequest,
  type SyncRequest,
  type SyncRequestBody,
  type SyncRequestOptions,
} from './request.js';
export { TerminalGallery, type GalleryInit, type GalleryState, type LocalFace, type LocalGroup } from './gallery.js';
export {
  applySyncStream,
  type ApplyOptions,
  type GroupSyncReport,
  type MismatchReason,
  type SyncReport,
} from './apply.js';
export { downloadSnapshot, type SnapshotContent, type SnapshotOptions } from './snapshot.js';
export type { BodyLike, FetchLike, HeadersLike, RequestInitLike, ResponseLike } from './http.js';
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export {
  TerminalClient,
  type CreateWebSocket,
  type SyncTrigger,
  type TerminalClientEvents,
  type TerminalClientOptions,
  type TimerApi,
  type WebSocketLike,
} from './client.js';
