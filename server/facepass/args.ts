// Argument extraction for FacePass JSON bodies and query strings. All absent
// arguments are reported together (104002 MISSING_ARGUMENT: a,b), then all
// malformed ones (104001 ILLEGAL_ARGUMENT: a,b), as the spec's "<args>,
// comma separated" asks.
import { illegalArgument, missingArgument } from '../core/errors.js';
import type { FaceToken, GroupName, ImageId } from '../core/ids.js';
import { isFaceToken, isImageId } from '../core/tokens.js';

/** Spec: 4-16 characters of letters, digits and underscore. */
const GROUP_NAME = /^[a-zA-Z0-9_]{4,16}$/;

/** A check that narrows a present value, or returns undefined when it is malformed. */
export type ArgParser<T> = (value: unknown) => T | undefined;

export const groupName: ArgParser<GroupName> = (value) =>
  typeof value === 'string' && GROUP_NAME.test(value) ? (value as GroupName) : undefined;
export const faceToken: ArgParser<FaceToken> = (value) => (isFaceToken(value) ? value : undefined);
export const imageId: ArgParser<ImageId> = (value) => (isImageId(value) ? value : undefined);

/** A page size from a query string: an integer in 1..max. */
export const pageLimit = (max: number): ArgParser<number> => (value) => {
  const n = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  return n >= 1 && n <= max ? n : undefined;
};

const isAbsent = (value: unknown) => value === undefined || value === null || value === '';

/** Every argument required: reads them all, or throws naming every missing, then every illegal one. */
export function requiredArgs<S extends Record<string, ArgParser<unknown>>>(
  source: Record<string, unknown>,
  schema: S,
): { [K in keyof S]: S[K] extends ArgParser<infer T> ? T : never } {
  const names = Object.keys(schema);
  const missing = names.filter((name) => isAbsent(source[name]));
  if (missing.length > 0) throw missingArgument(...missing);
  const parsed: Record<string, unknown> = {};
  const illegal: string[] = [];
  for (const name of names) {
    const value = schema[name]!(source[name]);
    if (value === undefined) illegal.push(name);
    parsed[name] = value;
  }
  if (illegal.length > 0) throw illegalArgument(...illegal);
  return parsed as { [K in keyof S]: S[K] extends ArgParser<infer T> ? T : never };
}

/** An optional argument: undefined when absent, ILLEGAL_ARGUMENT when malformed. */
export function optionalArg<T>(source: Record<string, unknown>, name: string, parse: ArgParser<T>): T | undefined {
  const value = source[name];
  if (isAbsent(value)) return undefined;
  const parsed = parse(value);
  if (parsed === undefined) throw illegalArgument(name);
  return parsed;
}
