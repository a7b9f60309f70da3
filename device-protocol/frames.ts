// Sync stream frames: typed values <-> length-prefixed `Frame` bytes.
// One frame at a time; stream-level rules (order, CRC, counts) live in
// order.ts, writer.ts and decoder.ts.
import {
  FEATURE_ENCODINGS,
  FeatureEncodingNumber,
  FrameType,
  MAX_FRAME_BYTES,
  SyncKind,
  type FeatureEncoding,
} from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { decodeEnvelope, FrameMessage, fromUint64, toSafeNumber, toUint64 } from './pb.js';
import { readVarint32 } from './varint.js';

export interface StreamHeader {
  /** The protocol version the server chose for this stream. */
  protocolVersion: number;
  /** The server's model version; every feature in the stream comes from it. */
  searchModel: string;
  /** Unix milliseconds when the server started the response. */
  serverTimeMs: number;
  featureEncoding: FeatureEncoding;
  /** Components of every feature vector; > 0 whenever faces follow. */
  featureDim: number;
}

export interface SnapshotRef {
  /** Absolute, or relative to the sync request URL. */
  url: string;
  /** Strong ETag, sent back in If-Range when a download is resumed. */
  etag: string;
  /** Size of the whole snapshot body in bytes. */
  byteLength: number;
}

export interface GroupResult {
  groupName: string;
  /** 0 when GROUP_GONE and the request had no id. */
  groupId: number;
  /** 0 when GROUP_GONE. */
  cloudVersion: number;
  /** The request's local_version, echoed. */
  localVersion: number;
  kind: SyncKind;
  /** Faces bound to the group at cloudVersion. */
  faceCount: number;
  /** digest.ts digest of the group's tokens at cloudVersion. */
  tokenDigest: bigint;
  /** FULL/RESET only: the records are in this snapshot instead of inline. */
  snapshot?: SnapshotRef;
}

/** One face as it travels; F is Uint8Array on the wire, Float32Array once decoded. */
export interface FaceRecord<F = Float32Array> {
  faceToken: string;
  userId?: string;
  userInfo?: string;
  feature: F;
}

export interface Trailer {
  groupCount: number;
  faceCount: number;
  removedCount: number;
  /** CRC-32 of every stream byte before the trailer's length prefix. */
  crc32: number;
}

export interface StreamErrorInfo {
  code: string;
  message: string;
}

export type Frame<F = Float32Array> =
  | { type: typeof FrameType.Header; header: StreamHeader }
  | { type: typeof FrameType.Group; group: GroupResult }
  | { type: typeof FrameType.Faces; faces: FaceRecord<F>[] }
  | { type: typeof FrameType.Removed; faceTokens: string[] }
  | { type: typeof FrameType.Trailer; trailer: Trailer }
  | { type: typeof FrameType.Error; error: StreamErrorInfo };

/** A frame as it is on the wire: features still encoded. */
export type WireFrame = Frame<Uint8Array>;

const KIND_VALUES: ReadonlySet<number> = new Set(Object.values(SyncKind));

function toMessage(frame: WireFrame): Record<string, unknown> {
  switch (frame.type) {
    case FrameType.Header: {
      const h = frame.header;
      return { header: { ...h, featureEncoding: FeatureEncodingNumber[h.featureEncoding] } };
    }
    case FrameType.Group: {
      const g = frame.group;
      return { group: { ...g, tokenDigest: fromUint64(g.tokenDigest) } };
    }
    case FrameType.Faces:
      return { faces: { faces: frame.faces } };
    case FrameType.Removed:
      return { removed: { faceTokens: frame.faceTokens } };
    case FrameType.Trailer:
      return { trailer: frame.trailer };
    case FrameType.Error:
      return { error: frame.error };
  }
}

/** Encodes one frame with its varint length prefix. */
export function encodeFrame(frame: WireFrame, maxFrameBytes: number = MAX_FRAME_BYTES): Uint8Array {
  const bytes = FrameMessage.encodeDelimited(toMessage(frame)).finish();
  const bodyLength = readVarint32(bytes, 0)!.value;
  if (bodyLength > maxFrameBytes) {
    throw syncError(SyncErrorCode.FrameTooLarge, `frame of ${bodyLength} bytes exceeds ${maxFrameBytes}`, {
      length: bodyLength,
      limit: maxFrameBytes,
    });
  }
  return bytes;
}

function requireNonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw syncError(SyncErrorCode.BadFrame, `${what} is empty`);
  return value;
}

function decodeGroup(g: Record<string, unknown>): GroupResult {
  const kind = (g.kind as number | undefined) ?? 0;
  if (!KIND_VALUES.has(kind)) throw syncError(SyncErrorCode.BadFrame, `unknown sync kind ${kind}`, { kind });
  const group: GroupResult = {
    groupName: requireNonEmpty(g.groupName, 'group_name'),
    groupId: toSafeNumber(g.groupId, 'group_id'),
    cloudVersion: toSafeNumber(g.cloudVersion, 'cloud_version'),
    localVersion: toSafeNumber(g.localVersion, 'local_version'),
    kind: kind as SyncKind,
    faceCount: (g.faceCount as number | undefined) ?? 0,
    tokenDigest: toUint64(g.tokenDigest),
  };
  const s = g.snapshot as Record<string, unknown> | null | undefined;
  if (s != null) {
    group.snapshot = {
      url: requireNonEmpty(s.url, 'snapshot.url'),
      etag: (s.etag as string | undefined) ?? '',
      byteLength: toSafeNumber(s.byteLength, 'snapshot.byte_length'),
    };
  }
  return group;
}

function decodeFace(f: Record<string, unknown>): FaceRecord<Uint8Array> {
  const face: FaceRecord<Uint8Array> = {
    faceToken: requireNonEmpty(f.faceToken, 'face_token'),
    feature: (f.feature as Uint8Array | undefined) ?? new Uint8Array(0),
  };
  // Absent proto3 `optional` fields decode as null; keep them absent.
  if (f.userId != null) face.userId = f.userId as string;
  if (f.userInfo != null) face.userInfo = f.userInfo as string;
  return face;
}

/**
 * Decodes one frame body (without its length prefix). Returns null for an
 * unknown ancillary frame type, which the caller skips. Byte fields of the
 * result may share memory with `body`.
 */
export function decodeFrameBody(body: Uint8Array): WireFrame | null {
  const envelope = decodeEnvelope(FrameMessage, body);
  if (envelope === null) return null;
  const v = envelope.value;
  switch (envelope.fieldNumber) {
    case FrameType.Header: {
      const encodingNumber = (v.featureEncoding as number | undefined) ?? 0;
      const featureEncoding = FEATURE_ENCODINGS[encodingNumber];
      if (featureEncoding === undefined) {
        throw syncError(SyncErrorCode.BadFrame, `unknown feature encoding ${encodingNumber}`);
      }
      return {
        type: FrameType.Header,
        header: {
          protocolVersion: (v.protocolVersion as number | undefined) ?? 0,
          searchModel: (v.searchModel as string | undefined) ?? '',
          serverTimeMs: toSafeNumber(v.serverTimeMs, 'server_time_ms'),
          featureEncoding,
          featureDim: (v.featureDim as number | undefined) ?? 0,
        },
      };
    }
    case FrameType.Group:
      return { type: FrameType.Group, group: decodeGroup(v) };
    case FrameType.Faces:
      return { type: FrameType.Faces, faces: ((v.faces as Record<string, unknown>[] | undefined) ?? []).map(decodeFace) };
    case FrameType.Removed: {
      const faceTokens = (v.faceTokens as string[] | undefined) ?? [];
      faceTokens.forEach((t) => requireNonEmpty(t, 'removed face_token'));
      return { type: FrameType.Removed, faceTokens };
    }
    case FrameType.Trailer:
      return {
        type: FrameType.Trailer,
        trailer: {
          groupCount: (v.groupCount as number | undefined) ?? 0,
          faceCount: (v.faceCount as number | undefined) ?? 0,
          removedCount: (v.removedCount as number | undefined) ?? 0,
          crc32: ((v.crc32 as number | undefined) ?? 0) >>> 0,
        },
      };
    case FrameType.Error:
      return {
        type: FrameType.Error,
        error: { code: (v.code as string | undefined) ?? '', message: (v.message as string | undefined) ?? '' },
      };
    default:
      // decodeEnvelope only returns field numbers of the schema.
      throw syncError(SyncErrorCode.UnknownFrame, `unknown frame type ${envelope.fieldNumber}`);
  }
}
