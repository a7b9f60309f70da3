// One Baidu request as its handler sees it: the library it works on, its
// arguments, and which path family it came by. Bodies are JSON whatever the
// Content-Type says (the official Node SDK sends JSON labelled
// application/x-www-form-urlencoded), and real form bodies work too.
import type { IncomingMessage } from 'node:http';
import { ErrorCode, FaceError } from '../core/errors.js';
import type { FaceToken, LibraryId } from '../core/ids.js';
import { readRawBody } from '../http/body.js';
import { CLOUD_USER_ID_MAX_BYTES, idArg, ID_MAX_BYTES, type Args } from './args.js';
import type { FaceAnalysis } from '../core/face-analysis.js';

export interface BaiduCall {
  library: LibraryId;
  /** The body's fields (an object body), over the query's own parameters. */
  args: Args;
  /** The parsed body as sent: an object, or an array (match, liveness, faceverify). */
  body: unknown;
  /** Came by /rest/2.0/... (user_id may then be 128 bytes). */
  cloud: boolean;
}

export type BaiduHandler = (call: BaiduCall) => Promise<unknown>;

/** user_id: 48 bytes on the private paths, 128 on the cloud ones. */
export const userIdArg = (call: BaiduCall, args: Args = call.args): string =>
  idArg(args, 'user_id', call.cloud ? CLOUD_USER_ID_MAX_BYTES : ID_MAX_BYTES);

/** Query parameters that are transport, not arguments. */
const TRANSPORT_PARAMS = new Set(['access_token', 'aipSdk', 'appid']);

export function queryArgs(query: Record<string, unknown>): Args {
  const args: Args = {};
  for (const [name, value] of Object.entries(query)) if (!TRANSPORT_PARAMS.has(name) && typeof value === 'string') args[name] = value;
  return args;
}

/** The body as JSON (object or array), else as a form; empty is `{}`. */
export async function readBaiduBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readRawBody(req, limit)).toString('utf8').trim();
  if (text === '') return {};
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new FaceError(ErrorCode.IllegalJsonBody, 'request body is not valid JSON', {}, { cause: err });
    }
  }
  if (/^[^=&]+=/.test(text)) return Object.fromEntries(new URLSearchParams(text));
  throw new FaceError(ErrorCode.IllegalJsonBody, 'request body is neither JSON nor a form');
}

export const isObject = (value: unknown): value is Args => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The face token a FACE_TOKEN image refers to, checked to be a live face of the call's library. */
export async function liveToken(analysis: FaceAnalysis, library: LibraryId, token: FaceToken): Promise<FaceToken> {
  await analysis.storedFace(library, token);
  return token;
}
