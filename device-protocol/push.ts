// Push channel messages: one PushFrame per binary WebSocket message, no
// length prefix (WebSocket already delimits messages).
//
//   terminal -> server  ClientHello                 (first message, once)
//   server -> terminal  ServerHello                 (answer; before any notice)
//   server -> terminal  VersionNotice*              (whenever named groups change)
//   server -> terminal  PushError, then close       (the close code repeats PushError.code)
import { CloseCode } from './close-codes.js';
import { MAX_PUSH_FRAME_BYTES, PushFrameType } from './constants.js';
import { isSyncError, syncError, SyncErrorCode } from './errors.js';
import { decodeEnvelope, PushFrameMessage, toSafeNumber } from './pb.js';

export interface GroupVersion {
  groupName: string;
  /** 0 when unknown (terminal never synced it; server has no live group of that name). */
  groupId: number;
  version: number;
}

export interface ClientHello {
  /** Highest protocol version the terminal speaks. */
  protocolVersion: number;
  deviceId: string;
  groups: GroupVersion[];
}

export interface ServerHello {
  /** The version chosen for this connection. */
  protocolVersion: number;
  searchModel: string;
  serverTimeMs: number;
  /** Current cloud version of every group the terminal named. */
  groups: GroupVersion[];
}

export type PushMessage =
  | { type: typeof PushFrameType.ClientHello; hello: ClientHello }
  | { type: typeof PushFrameType.ServerHello; hello: ServerHello }
  | { type: typeof PushFrameType.Notice; groups: GroupVersion[] }
  | { type: typeof PushFrameType.Error; code: number; reason: string };

function toMessage(message: PushMessage): Record<string, unknown> {
  switch (message.type) {
    case PushFrameType.ClientHello:
      return { clientHello: message.hello };
    case PushFrameType.ServerHello:
      return { serverHello: message.hello };
    case PushFrameType.Notice:
      return { notice: { groups: message.groups } };
    case PushFrameType.Error:
      return { error: { code: message.code, reason: message.reason } };
  }
}

export function encodePushFrame(message: PushMessage, maxBytes: number = MAX_PUSH_FRAME_BYTES): Uint8Array {
  const bytes = PushFrameMessage.encode(toMessage(message)).finish();
  if (bytes.length > maxBytes) {
    throw syncError(SyncErrorCode.FrameTooLarge, `push frame of ${bytes.length} bytes exceeds ${maxBytes}`, {
      length: bytes.length,
      limit: maxBytes,
    });
  }
  return bytes;
}

function decodeGroups(value: unknown): GroupVersion[] {
  return ((value as Record<string, unknown>[] | undefined) ?? []).map((g) => ({
    groupName: (g.groupName as string | undefined) ?? '',
    groupId: toSafeNumber(g.groupId, 'group_id'),
    version: toSafeNumber(g.version, 'version'),
  }));
}

/**
 * Decodes one WebSocket message. The size is checked before anything is
 * decoded. Returns null for an unknown ancillary type (ignore it); throws
 * SyncError for anything else that is not a valid PushFrame.
 */
export function decodePushFrame(bytes: Uint8Array, maxBytes: number = MAX_PUSH_FRAME_BYTES): PushMessage | null {
  if (bytes.length > maxBytes) {
    throw syncError(SyncErrorCode.FrameTooLarge, `push frame of ${bytes.length} bytes exceeds ${maxBytes}`, {
      length: bytes.length,
      limit: maxBytes,
    });
  }
  const envelope = decodeEnvelope(PushFrameMessage, bytes);
  if (envelope === null) return null;
  const v = envelope.value;
  switch (envelope.fieldNumber) {
    case PushFrameType.ClientHello:
      return {
        type: PushFrameType.ClientHello,
        hello: {
          protocolVersion: (v.protocolVersion as number | undefined) ?? 0,
          deviceId: (v.deviceId as string | undefined) ?? '',
          groups: decodeGroups(v.groups),
        },
      };
    case PushFrameType.ServerHello:
      return {
        type: PushFrameType.ServerHello,
        hello: {
          protocolVersion: (v.protocolVersion as number | undefined) ?? 0,
          searchModel: (v.searchModel as string | undefined) ?? '',
          serverTimeMs: toSafeNumber(v.serverTimeMs, 'server_time_ms'),
          groups: decodeGroups(v.groups),
        },
      };
    case PushFrameType.Notice:
      return { type: PushFrameType.Notice, groups: decodeGroups(v.groups) };
    case PushFrameType.Error:
      return { type: PushFrameType.Error, code: (v.code as number | undefined) ?? 0, reason: (v.reason as string | undefined) ?? '' };
    default:
      throw syncError(SyncErrorCode.UnknownFrame, `unknown push frame type ${envelope.fieldNumber}`);
  }
}

/** The close code for a failure at the socket edge (either side). */
export function closeCodeFor(err: unknown): CloseCode {
  if (!isSyncError(err)) return CloseCode.InternalError;
  switch (err.code) {
    case SyncErrorCode.FrameTooLarge:
      return CloseCode.FrameTooLarge;
    case SyncErrorCode.ProtocolVersion:
      return CloseCode.ProtocolVersionUnsupported;
    case SyncErrorCode.Unauthorized:
      return CloseCode.Unauthorized;
    case SyncErrorCode.BadFrame:
    case SyncErrorCode.UnknownFrame:
    case SyncErrorCode.BadVarint:
    case SyncErrorCode.BadOrder:
      return CloseCode.BadFrame;
    default:
      return CloseCode.InternalError;
  }
}
