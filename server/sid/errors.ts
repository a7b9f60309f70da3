// The SID dialect's one table from domain error codes to its `result`
// numbers and messages. The spec defines only 0 (success) and, by example,
// 20010009 for a record not found ("查询人脸错误,错误信息[record not found]");
// the other numbers are ours, in the same range, listed in the README.
// `info` is "<operation>错误,错误信息[<message>]", as the spec's example.
import { ErrorCode, type FaceError } from '../core/errors.js';

export interface SidError {
  result: number;
  message: string;
}

export const SID_RESULT = {
  missingParameter: 20010001,
  illegalParameter: 20010002,
  unauthorized: 20010003,
  badImage: 20010004,
  noFace: 20010005,
  badFeature: 20010006,
  notJson: 20010007,
  faceExists: 20010008,
  notFound: 20010009,
  faceLimit: 20010010,
  aborted: 20010011,
  busy: 20010012,
  internal: 20010099,
} as const;

const arg = (err: FaceError) => err.details.args?.[0] ?? 'body';

function illegal(err: FaceError): SidError {
  if (err.details.reason === 'model') return { result: SID_RESULT.badFeature, message: `feature of another model: ${err.message}` };
  if (err.details.reason === 'feature') return { result: SID_RESULT.badFeature, message: err.message };
  const why = typeof err.details.why === 'string' ? `: ${err.details.why}` : '';
  return { result: SID_RESULT.illegalParameter, message: `param[${arg(err)}] is illegal${why}` };
}

const image = (message: string) => (): SidError => ({ result: SID_RESULT.badImage, message });
const notFound = (): SidError => ({ result: SID_RESULT.notFound, message: 'record not found' });

const TABLE: Record<ErrorCode, (err: FaceError) => SidError> = {
  [ErrorCode.MissingArgument]: (err) => ({ result: SID_RESULT.missingParameter, message: `param[${arg(err)}] is missing` }),
  [ErrorCode.IllegalArgument]: illegal,
  [ErrorCode.IllegalJsonBody]: () => ({ result: SID_RESULT.notJson, message: 'request body must be a JSON object' }),
  [ErrorCode.UnsupportedImageFormat]: image('image format not supported or image corrupt'),
  [ErrorCode.ImageValidateFailed]: image('image missing or not a file'),
  [ErrorCode.ImageResolutionTooLarge]: image('image resolution too large'),
  [ErrorCode.ImageResolutionTooSmall]: image('image resolution too small'),
  [ErrorCode.ImageFileTooLarge]: image('image too large'),
  [ErrorCode.RequestTooLarge]: image('request body too large'),
  [ErrorCode.FaceNotFound]: () => ({ result: SID_RESULT.noFace, message: 'no face found in image' }),
  [ErrorCode.BadQuality]: (err) => ({ result: SID_RESULT.badImage, message: `face quality too low: ${err.details.reason ?? 'quality'}` }),
  [ErrorCode.LivenessFailed]: () => ({ result: SID_RESULT.badImage, message: 'liveness check failed' }),
  [ErrorCode.NoMatch]: notFound,
  [ErrorCode.FaceTokenNotFound]: notFound,
  [ErrorCode.ImageNotFound]: notFound,
  [ErrorCode.GroupNameConflict]: () => ({ result: SID_RESULT.faceExists, message: 'group already exists' }),
  [ErrorCode.GroupNotFound]: notFound,
  [ErrorCode.BindingNotFound]: notFound,
  [ErrorCode.UserNotFound]: notFound,
  [ErrorCode.UserFaceLimit]: () => ({ result: SID_RESULT.faceLimit, message: "the number of the user's faces is beyond the limit" }),
  [ErrorCode.FaceAlreadyInGroup]: () => ({ result: SID_RESULT.faceExists, message: 'face already exists in the group' }),
  [ErrorCode.Unauthorized]: () => ({ result: SID_RESULT.unauthorized, message: 'app_id or app_secret is wrong' }),
  // The work was abandoned (client gone, or the image's deadline passed).
  [ErrorCode.Aborted]: () => ({ result: SID_RESULT.aborted, message: 'request abandoned' }),
  // The engine's queue is full: the caller should retry shortly.
  [ErrorCode.Busy]: () => ({ result: SID_RESULT.busy, message: 'server busy, try again shortly' }),
  [ErrorCode.Internal]: () => INTERNAL_ERROR,
};

export const INTERNAL_ERROR: SidError = { result: SID_RESULT.internal, message: 'internal error' };

export function toSidError(err: FaceError): SidError {
  return TABLE[err.code](err);
}
