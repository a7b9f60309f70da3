// Argument rules of the Baidu dialect (spec 接口文档 tables). Baidu names
// the first bad parameter (222001 param[x] is null, 2220xx param[x] format
// error), so checks run one parameter at a time, in the tables' order.
import { FaceError, ErrorCode, missingArgument } from '../core/errors.js';
import type { FaceToken, GroupName } from '../core/ids.js';
import { isFaceToken } from '../core/tokens.js';

export type Args = Record<string, unknown>;

/** group_id, user_id, appid: letters, digits and underscore, at most 48 bytes (user_id 128 on the cloud paths). */
const ID = /^[A-Za-z0-9_]+$/;
export const ID_MAX_BYTES = 48;
export const CLOUD_USER_ID_MAX_BYTES = 128;
export const USER_INFO_MAX_BYTES = 256;
/** "编码后的图片大小不超过2M". */
export const BASE64_MAX_CHARS = 2 * 1024 * 1024;
/** Spec: group_id "@ALL" in user/get and user/delete means every group. */
export const ALL_GROUPS = '@ALL';

export function illegal(name: string, why?: string): FaceError {
  return new FaceError(ErrorCode.IllegalArgument, `illegal argument: ${name}${why ? ` (${why})` : ''}`, { args: [name], ...(why ? { why } : {}) });
}

const isAbsent = (value: unknown) => value === undefined || value === null || value === '';

/** A required string parameter. */
export function requiredString(args: Args, name: string): string {
  const value = args[name];
  if (isAbsent(value)) throw missingArgument(name);
  if (typeof value !== 'string') throw illegal(name);
  return value;
}

export function optionalString(args: Args, name: string): string | undefined {
  const value = args[name];
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'string') throw illegal(name);
  return value;
}

export function isId(value: string, maxBytes = ID_MAX_BYTES): boolean {
  return ID.test(value) && Buffer.byteLength(value) <= maxBytes;
}

export function idArg(args: Args, name: string, maxBytes = ID_MAX_BYTES): string {
  const value = requiredString(args, name);
  if (!isId(value, maxBytes)) throw illegal(name, `letters, digits and _ only, at most ${maxBytes} bytes`);
  return value;
}

export const groupArg = (args: Args, name = 'group_id') => idArg(args, name) as GroupName;

/** group_id that may be @ALL: null then. */
export function groupOrAllArg(args: Args): GroupName | null {
  return requiredString(args, 'group_id') === ALL_GROUPS ? null : groupArg(args);
}

export function userInfoArg(args: Args): string | undefined {
  const value = optionalString(args, 'user_info');
  if (value !== undefined && Buffer.byteLength(value) > USER_INFO_MAX_BYTES) throw illegal('user_info', `at most ${USER_INFO_MAX_BYTES} bytes`);
  return value;
}

/** An integer parameter (number or numeric string, as form bodies send), default when absent. */
export function intArg(args: Args, name: string, fallback: number, min: number, max: number): number {
  const value = args[name];
  if (isAbsent(value)) return fallback;
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < min || number > max) throw illegal(name, `an integer in [${min}, ${max}]`);
  return number;
}

/** One of the listed words, default when absent. */
export function enumArg<T extends string>(args: Args, name: string, values: readonly T[], fallback: T): T {
  const value = optionalString(args, name);
  if (value === undefined) return fallback;
  if (!(values as readonly string[]).includes(value)) throw illegal(name, `one of ${values.join(', ')}`);
  return value as T;
}

/** A comma-separated list of ids, 1..max of them, duplicates dropped. */
export function idListArg(args: Args, name: string, max: number): string[] {
  const raw = requiredString(args, name);
  const items = [...new Set(raw.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
  if (items.length === 0 || items.length > max || !items.every((item) => isId(item))) {
    throw illegal(name, `1 to ${max} comma-separated ids`);
  }
  return items;
}

export type ImageInput = { kind: 'photo'; bytes: Buffer } | { kind: 'token'; token: FaceToken };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * image + image_type. BASE64: at most 2 MB encoded, no `data:...;base64,`
 * prefix (the spec: 图片的base64编码是不包含图片头的). FACE_TOKEN: a stored
 * face. URL: refused, this server makes no outbound requests.
 */
export function imageArg(args: Args): ImageInput {
  const image = requiredString(args, 'image');
  const type = requiredString(args, 'image_type');
  if (type === 'FACE_TOKEN') {
    if (!isFaceToken(image)) throw new FaceError(ErrorCode.FaceTokenNotFound, 'malformed face_token');
    return { kind: 'token', token: image };
  }
  if (type === 'URL') throw illegal('image_type', 'URL images are not fetched by this server; send BASE64 or FACE_TOKEN');
  if (type !== 'BASE64') throw illegal('image_type', 'BASE64 or FACE_TOKEN');
  if (image.length > BASE64_MAX_CHARS) throw new FaceError(ErrorCode.ImageFileTooLarge, 'BASE64 image over 2 MB');
  if (/^data:/i.test(image)) throw illegal('image', 'send the bare base64, without a data: prefix');
  const compact = image.replace(/\s+/g, '');
  if (compact.length % 4 === 1 || !BASE64.test(compact)) throw illegal('image', 'not valid base64');
  return { kind: 'photo', bytes: Buffer.from(compact, 'base64') };
}

export const CONTROL_LEVELS = ['NONE', 'LOW', 'NORMAL', 'HIGH'] as const;
export type ControlLevel = (typeof CONTROL_LEVELS)[number];
export const FACE_TYPES = ['LIVE', 'IDCARD', 'WATERMARK', 'CERT'] as const;

export interface Controls {
  quality: ControlLevel;
  liveness: ControlLevel;
}

/** quality_control and liveness_control (default NONE); face_type and image_spec are checked and otherwise ignored (one model serves all). */
export function controlArgs(args: Args): Controls {
  enumArg(args, 'face_type', FACE_TYPES, 'LIVE');
  enumArg(args, 'image_spec', ['COMMON', 'SNAP'] as const, 'COMMON');
  return {
    quality: enumArg(args, 'quality_control', CONTROL_LEVELS, 'NONE'),
    liveness: enumArg(args, 'liveness_control', CONTROL_LEVELS, 'NONE'),
  };
}
