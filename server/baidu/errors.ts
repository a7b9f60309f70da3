// The Baidu dialect's one table from domain error codes to Baidu's published
// face error codes and messages (ai.baidu.com 人脸识别错误码; the spec shows
// 223100, 223101, 223103, 223106, 223111). Baidu answers every error with
// HTTP 200 and the code in the body, and so does this dialect.
import { ErrorCode, type FaceError } from '../core/errors.js';

export interface BaiduError {
  code: number;
  message: string;
}

/** Baidu's per-parameter "format error" codes (222002-222030); others get 216100 invalid param. */
const PARAM_CODES: Record<string, number> = {
  start: 222002,
  length: 222003,
  op_app_id_list: 222004,
  group_id_list: 222005,
  group_id: 222006,
  src_group_id: 222006,
  dst_group_id: 222006,
  user_info: 222010,
  op_app_id: 222012,
  image: 222013,
  appid: 222014,
  image_type: 222015,
  max_face_num: 222016,
  face_field: 222017,
  user_id: 222018,
  quality_control: 222019,
  liveness_control: 222020,
  max_user_num: 222021,
  face_type: 222024,
  face_token: 222025,
  match_threshold: 222030,
};

const firstArg = (err: FaceError) => err.details.args?.[0] ?? 'body';

function formatError(err: FaceError): BaiduError {
  const name = firstArg(err);
  if (name === 'image_count') return { code: 222208, message: 'the number of image is incorrect' };
  const code = PARAM_CODES[name];
  const why = typeof err.details.why === 'string' ? `: ${err.details.why}` : '';
  return code ? { code, message: `param[${name}] format error${why}` } : { code: 216100, message: `invalid param ${name}${why}` };
}

/** Quality checks by the reason the dialect's quality control gives. */
const QUALITY_CODES: Record<string, BaiduError> = {
  blur: { code: 223114, message: 'face is fuzzy' },
  illumination: { code: 223115, message: 'face light is not good' },
  completeness: { code: 223116, message: 'incomplete face' },
};

const TABLE: Record<ErrorCode, (err: FaceError) => BaiduError> = {
  [ErrorCode.MissingArgument]: (err) => ({ code: 222001, message: `param[${firstArg(err)}] is null` }),
  [ErrorCode.IllegalArgument]: formatError,
  [ErrorCode.IllegalJsonBody]: () => ({ code: 222200, message: 'request body should be json format' }),
  [ErrorCode.UnsupportedImageFormat]: () => ({ code: 222203, message: 'image check fail' }),
  [ErrorCode.ImageResolutionTooLarge]: () => ({ code: 222203, message: 'image check fail: resolution too large' }),
  [ErrorCode.ImageResolutionTooSmall]: () => ({ code: 222203, message: 'image check fail: resolution too small' }),
  [ErrorCode.ImageFileTooLarge]: () => ({ code: 222013, message: 'param[image] format error: image too large' }),
  [ErrorCode.RequestTooLarge]: () => ({ code: 222013, message: 'param[image] format error: request body too large' }),
  [ErrorCode.FaceNotFound]: () => ({ code: 222202, message: 'pic not has face' }),
  [ErrorCode.BadQuality]: (err) => QUALITY_CODES[err.details.reason ?? ''] ?? { code: 223118, message: 'quality control error' },
  [ErrorCode.LivenessFailed]: () => ({ code: 223120, message: 'liveness check fail' }),
  [ErrorCode.NoMatch]: () => ({ code: 222207, message: 'match user is not found' }),
  [ErrorCode.FaceTokenNotFound]: () => ({ code: 222209, message: 'face token not exist' }),
  [ErrorCode.ImageNotFound]: () => ({ code: 222209, message: 'face token not exist' }),
  [ErrorCode.GroupNameConflict]: () => ({ code: 223101, message: 'group is already exist' }),
  [ErrorCode.GroupNotFound]: (err) =>
    err.details.role === 'destination' ? { code: 223111, message: 'dst group is not exist' } : { code: 223100, message: 'group is not exist' },
  [ErrorCode.BindingNotFound]: () => ({ code: 223106, message: 'face is not exist' }),
  [ErrorCode.UserNotFound]: () => ({ code: 223103, message: 'user is not exist' }),
  [ErrorCode.UserFaceLimit]: () => ({ code: 222210, message: "the number of user's faces is beyond the limit" }),
  [ErrorCode.FaceAlreadyInGroup]: () => ({ code: 223105, message: 'face is already exist' }),
  [ErrorCode.Unauthorized]: (err) => ({ code: Number(err.details.baiduCode ?? 6), message: String(err.details.baiduMessage ?? 'No permission to access data') }),
  // The work was abandoned (client gone, or the image's deadline passed).
  [ErrorCode.Aborted]: () => ({ code: 222302, message: 'system error: request abandoned' }),
  // Baidu's answer when a caller exceeds what the service can take at once.
  [ErrorCode.Busy]: () => ({ code: 18, message: 'Open api qps request limit reached' }),
  [ErrorCode.Internal]: () => INTERNAL_ERROR,
};

export const INTERNAL_ERROR: BaiduError = { code: 222302, message: 'system error' };
/** Baidu's answer for a path it does not serve. */
export const UNSUPPORTED_METHOD: BaiduError = { code: 3, message: 'Unsupported openapi method' };

export function toBaiduError(err: FaceError): BaiduError {
  return TABLE[err.code](err);
}
