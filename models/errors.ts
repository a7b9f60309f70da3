// One domain error type with a stable code. Each API dialect keeps one table
// mapping these codes to its own numbers, messages and HTTP statuses; the
// core, the engine and the store only ever throw FaceError.

export const ErrorCode = {
  /** A required argument is absent; `details.args` names them. */
  MissingArgument: 'MISSING_ARGUMENT',
  /** An argument has the wrong type or format; `details.args` names them. */
  IllegalArgument: 'ILLEGAL_ARGUMENT',
  /** A JSON body could not be parsed. */
  IllegalJsonBody: 'ILLEGAL_JSON_BODY',
  /** The image bytes are not a supported format, or are corrupt/truncated. */
  UnsupportedImageFormat: 'UNSUPPORTED_IMAGE_FORMAT',
  /** The image has more pixels than allowed (checked before full decode). */
  ImageResolutionTooLarge: 'IMAGE_RESOLUTION_TOO_LARGE',
  /** The image is smaller than the smallest allowed. */
  ImageResolutionTooSmall: 'IMAGE_RESOLUTION_TOO_SMALL',
  /** The image file has more bytes than allowed. */
  ImageFileTooLarge: 'IMAGE_FILE_TOO_LARGE',
  /** The request body is larger than the server accepts. */
  RequestTooLarge: 'REQUEST_TOO_LARGE',
  /** No face was detected. */
  FaceNotFound: 'FACE_NOT_FOUND',
  /** The face failed an admission check; `details.reason` names it. */
  BadQuality: 'BAD_QUALITY',
  FaceTokenNotFound: 'FACE_TOKEN_NOT_FOUND',
  ImageNotFound: 'IMAGE_NOT_FOUND',
  GroupNameConflict: 'GROUP_NAME_CONFLICT',
  GroupNotFound: 'GROUP_NOT_FOUND',
  BindingNotFound: 'BINDING_NOT_FOUND',
  /** No binding of the group carries that user id. */
  UserNotFound: 'USER_NOT_FOUND',
  /** A user would have more faces in a group than allowed. */
  UserFaceLimit: 'USER_FACE_LIMIT',
  /** The face is already bound to the group (a face joins a group at most once). */
  FaceAlreadyInGroup: 'FACE_ALREADY_IN_GROUP',
  /** The face's liveness score is below the requested threshold. */
  LivenessFailed: 'LIVENESS_FAILED',
  /** A search found no enrolled user at or above the asked score. */
  NoMatch: 'NO_MATCH',
  Unauthorized: 'UNAUTHORIZED',
  /** The work was abandoned: the client went away or the request's deadline passed. */
  Aborted: 'ABORTED',
  /** The face engine's queue is full: try again shortly (the dialects answer their "busy" error). */
  Busy: 'BUSY',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface FaceErrorDetails {
  /** Argument names, for MISSING_ARGUMENT / ILLEGAL_ARGUMENT. */
  args?: string[];
  /** Which admission check failed, for BAD_QUALITY (e.g. "yaw"). */
  reason?: string;
  /** Anything a dialect may echo back (e.g. image_id, rect for face add). */
  [key: string]: unknown;
}

export class FaceError extends Error {
  readonly code: ErrorCode;
  readonly details: FaceErrorDetails;

  constructor(code: ErrorCode, message: string, details: FaceErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FaceError';
    this.code = code;
    this.details = details;
  }
}

export const isFaceError = (err: unknown): err is FaceError => err instanceof FaceError;

export function missingArgument(...args: string[]): FaceError {
  return new FaceError(ErrorCode.MissingArgument, `missing argument: ${args.join(',')}`, { args });
}

export function illegalArgument(...args: string[]): FaceError {
  return new FaceError(ErrorCode.IllegalArgument, `illegal argument: ${args.join(',')}`, { args });
}
