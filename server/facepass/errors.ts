// The FacePass dialect's one table from domain error codes to its numbers,
// messages and HTTP statuses (spec 通用错误码 and each API's 错误码).
import { ErrorCode, type FaceError } from '../core/errors.js';

export interface FacePassError {
  status: number;
  code: number;
  message: string;
}

const args = (err: FaceError) => (err.details.args ?? []).join(',');

const TABLE: Record<ErrorCode, (err: FaceError) => FacePassError> = {
  [ErrorCode.IllegalJsonBody]: () => ({ status: 400, code: 104000, message: 'ILLEGAL_JSON_BODY' }),
  [ErrorCode.IllegalArgument]: (err) => ({ status: 400, code: 104001, message: `ILLEGAL_ARGUMENT: ${args(err)}` }),
  [ErrorCode.MissingArgument]: (err) => ({ status: 400, code: 104002, message: `MISSING_ARGUMENT: ${args(err)}` }),
  [ErrorCode.UnsupportedImageFormat]: () => ({ status: 400, code: 104100, message: 'UNSUPPORTED_IMAGE_FORMAT' }),
  [ErrorCode.ImageResolutionTooLarge]: () => ({ status: 400, code: 104101, message: 'INVALID_IMAGE_RESOLUTION' }),
  [ErrorCode.ImageResolutionTooSmall]: () => ({ status: 400, code: 104101, message: 'INVALID_IMAGE_RESOLUTION' }),
  [ErrorCode.ImageFileTooLarge]: () => ({ status: 400, code: 104102, message: 'INVALID_IMAGE_FILE_SIZE' }),
  // A JSON body over the server's limit, refused before parsing. FacePass has
  // no code for it (face/add turns it into INVALID_IMAGE_FILE_SIZE, the
  // spec's code for an image too large); like 401 and 404 the code repeats
  // the HTTP status, 413, so proxies and clients see why.
  [ErrorCode.RequestTooLarge]: (err) => ({ status: 413, code: 413, message: `REQUEST_TOO_LARGE: body over ${err.details.limit ?? '?'} bytes` }),
  [ErrorCode.FaceNotFound]: () => ({ status: 400, code: 104200, message: 'FACE_NOT_FOUND' }),
  [ErrorCode.BadQuality]: (err) => ({ status: 400, code: 104201, message: `BAD_QUALITY: ${err.details.reason ?? ''}` }),
  [ErrorCode.FaceTokenNotFound]: () => ({ status: 400, code: 104202, message: 'FACE_TOKEN_NOT_EXIST' }),
  // Not in the spec's table: image_id is opaque, an unknown one is a bad argument.
  [ErrorCode.ImageNotFound]: () => ({ status: 400, code: 104001, message: 'ILLEGAL_ARGUMENT: image_id' }),
  [ErrorCode.GroupNameConflict]: () => ({ status: 400, code: 104300, message: 'GROUP_NAME_CONFLICT' }),
  [ErrorCode.GroupNotFound]: () => ({ status: 400, code: 104301, message: 'GROUP_NAME_NOT_EXIST' }),
  [ErrorCode.BindingNotFound]: () => ({ status: 400, code: 104303, message: 'GROUP_BINDING_NOT_EXIST' }),
  // Raised only by other dialects' operations; FacePass never triggers them.
  [ErrorCode.UserNotFound]: () => ({ status: 400, code: 104001, message: 'ILLEGAL_ARGUMENT: user_id' }),
  [ErrorCode.UserFaceLimit]: () => ({ status: 400, code: 104001, message: 'ILLEGAL_ARGUMENT: user_id' }),
  [ErrorCode.FaceAlreadyInGroup]: () => ({ status: 400, code: 104001, message: 'ILLEGAL_ARGUMENT: face_token' }),
  [ErrorCode.LivenessFailed]: () => ({ status: 400, code: 104201, message: 'BAD_QUALITY: Liveness' }),
  [ErrorCode.NoMatch]: () => ({ status: 400, code: 104200, message: 'FACE_NOT_FOUND' }),
  // Not in the spec: access control is this server's addition.
  // A valid key acting for another device (per-terminal keys) is forbidden, not unauthenticated.
  [ErrorCode.Unauthorized]: (err) =>
    err.details.forbidden ? { status: 403, code: 403, message: 'FORBIDDEN' } : { status: 401, code: 401, message: 'UNAUTHORIZED' },
  // The work was abandoned (client gone, or the image's deadline passed).
  [ErrorCode.Aborted]: () => ({ status: 503, code: 105000, message: 'INTERNAL_ERROR: request abandoned' }),
  // Not in the spec: the face engine's queue is full. HTTP 503 with
  // Retry-After (set by the router), so clients back off instead of piling up.
  [ErrorCode.Busy]: () => ({ status: 503, code: 105001, message: 'SERVER_BUSY' }),
  [ErrorCode.Internal]: () => ({ status: 500, code: 105000, message: 'INTERNAL_ERROR' }),
};

export function toFacePassError(err: FaceError): FacePassError {
  return TABLE[err.code](err);
}

export const INTERNAL_ERROR: FacePassError = { status: 500, code: 105000, message: 'INTERNAL_ERROR' };
