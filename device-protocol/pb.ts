// protobufjs glue shared by the sync and push codecs: the resolved envelope
// types, the envelope dispatcher, and 64-bit integer conversions.
import type protobuf from 'protobufjs';
import { FIRST_ANCILLARY_FRAME_TYPE } from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { loadSchema } from './schema.js';
import { readVarint32 } from './varint.js';

// Built once and never modified afterwards: a constant, like a compiled regex.
const schema = loadSchema();
export const FrameMessage: protobuf.Type = schema.Frame;
export const PushFrameMessage: protobuf.Type = schema.PushFrame;

/** protobufjs decodes 64-bit fields to Long when long.js is present, else to number. */
interface LongLike {
  low: number;
  high: number;
}

const WIRE_TYPE_LEN = 2;

/**
 * Decodes one envelope (Frame or PushFrame) and returns the set member's
 * field number and value, or null for an unknown ancillary type (skip it).
 * Unknown critical types, empty bodies and bodies that set more than one
 * member are rejected: every member is a message, so a well-formed envelope
 * is exactly one length-delimited field.
 */
export function decodeEnvelope(
  type: protobuf.Type,
  body: Uint8Array,
): { fieldNumber: number; value: Record<string, unknown> } | null {
  if (body.length === 0) throw syncError(SyncErrorCode.BadFrame, `empty ${type.name}`);
  const tag = readVarint32(body, 0);
  if (tag === null) throw syncError(SyncErrorCode.BadFrame, `${type.name} ends inside its first tag`);
  const fieldNumber = tag.value >>> 3;
  const field = type.fieldsById[fieldNumber];
  if (!field) {
    if (fieldNumber >= FIRST_ANCILLARY_FRAME_TYPE) return null;
    throw syncError(SyncErrorCode.UnknownFrame, `unknown ${type.name} type ${fieldNumber}`, { type: fieldNumber });
  }
  if ((tag.value & 7) !== WIRE_TYPE_LEN) {
    throw syncError(SyncErrorCode.BadFrame, `${type.name} type ${fieldNumber} has wire type ${tag.value & 7}`);
  }
  // Exactly one field: its length must reach the end of the body. Protobuf
  // itself would merge a repeated member and keep the last of two members.
  const length = readVarint32(body, tag.next);
  if (length === null || length.next + length.value !== body.length) {
    throw syncError(SyncErrorCode.BadFrame, `${type.name} must be exactly one field (type ${fieldNumber})`);
  }
  let message: Record<string, unknown>;
  try {
    message = type.decode(body) as unknown as Record<string, unknown>;
  } catch (err) {
    throw syncError(SyncErrorCode.BadFrame, `undecodable ${type.name}: ${(err as Error).message}`, {}, err);
  }
  // protobufjs keeps only the last member of a oneof it decodes; if that is
  // not the member the body started with, the body carried more than one.
  const value = message[field.name];
  if (value == null) throw syncError(SyncErrorCode.BadFrame, `${type.name} must set exactly one type`);
  return { fieldNumber, value: value as Record<string, unknown> };
}

/** A uint64 that must fit a JS number exactly (versions, ids, times, sizes). */
export function toSafeNumber(value: unknown, what: string): number {
  if (value == null) return 0;
  if (typeof value === 'number') return value;
  const { low, high } = value as LongLike;
  const n = (high >>> 0) * 2 ** 32 + (low >>> 0);
  if (!Number.isSafeInteger(n)) throw syncError(SyncErrorCode.BadFrame, `${what} exceeds 2^53`, { field: what });
  return n;
}

/** A fixed64 read as an unsigned 64-bit bigint (the token digest). */
export function toUint64(value: unknown): bigint {
  if (value == null) return 0n;
  if (typeof value === 'number') return BigInt(value);
  const { low, high } = value as LongLike;
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

/** An unsigned 64-bit bigint as the low/high pair protobufjs encodes. */
export function fromUint64(value: bigint): LongLike {
  if (value < 0n || value >= 1n << 64n) throw new RangeError(`not a uint64: ${value}`);
  return { low: Number(value & 0xffffffffn) | 0, high: Number(value >> 32n) | 0 };
}
