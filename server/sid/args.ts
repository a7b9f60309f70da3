// Argument rules of the SID dialect. Ids follow the Baidu dialect's (the
// same users and groups): letters, digits and _, at most 48 bytes. Images
// are base64, optionally with a data: URL prefix, which is dropped.
import { ErrorCode, FaceError, missingArgument } from '../core/errors.js';
import type { GroupName } from '../core/ids.js';

export type Args = Record<string, unknown>;

const ID = /^[A-Za-z0-9_]{1,48}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** topN: like the other dialects' largest (Baidu max_user_num 50). */
export const MAX_TOP_N = 50;

const isAbsent = (value: unknown) => value === undefined || value === null || value === '';

function illegal(name: string, why: string): FaceError {
  return new FaceError(ErrorCode.IllegalArgument, `illegal argument: ${name} (${why})`, { args: [name], why });
}

export function optionalString(args: Args, name: string): string | undefined {
  const value = args[name];
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'string') throw illegal(name, 'a string');
  return value;
}

export function requiredString(args: Args, name: string): string {
  const value = optionalString(args, name);
  if (value === undefined) throw missingArgument(name);
  return value;
}

/** The first of the names given, for the spec's two spellings (imageA / imgA); `undefined` when none is. */
export function eitherString(args: Args, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = optionalString(args, name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

export function userIdArg(args: Args): string {
  const value = requiredString(args, 'userId');
  if (!ID.test(value)) throw illegal('userId', 'letters, digits and _ only, at most 48 bytes');
  return value;
}

/** groupId, or `fallback` when absent (the configured default group, or null for every group). */
export function groupIdArg<T extends GroupName | null>(args: Args, fallback: T): GroupName | T {
  const value = optionalString(args, 'groupId');
  if (value === undefined) return fallback;
  if (!ID.test(value)) throw illegal('groupId', 'letters, digits and _ only, at most 48 bytes');
  return value as GroupName;
}

/** A base64 image (named `name`), bytes decoded. */
export function imageBytes(name: string, text: string): Buffer {
  const compact = text.replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  if (compact === '') throw missingArgument(name);
  if (compact.length % 4 === 1 || !BASE64.test(compact)) throw illegal(name, 'not valid base64');
  return Buffer.from(compact, 'base64');
}

export function topNArg(args: Args): number {
  const value = args.topN;
  if (isAbsent(value)) throw missingArgument('topN');
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < 1 || number > MAX_TOP_N) throw illegal('topN', `an integer in [1, ${MAX_TOP_N}]`);
  return number;
}
