// Branded identifiers: plain strings/numbers at run time, distinct types at
// compile time, so a face token can never be passed where an image id goes.
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** 24 characters of [A-Za-z0-9=_-]; the identity of one enrolled face. */
export type FaceToken = Brand<string, 'FaceToken'>;
/** 24 characters; the identity of one stored original image. */
export type ImageId = Brand<string, 'ImageId'>;
/** Server-assigned numeric id of one incarnation of a group (a group re-created under the same name gets a new one). */
export type GroupId = Brand<number, 'GroupId'>;
/** A group's name, unique among the live groups of one library. */
export type GroupName = Brand<string, 'GroupName'>;
/** A face library (Baidu `appid`); the FacePass dialect uses the default library. */
export type LibraryId = Brand<string, 'LibraryId'>;
/** A terminal's identity as sent in `X-Device-Id` (or its IP when absent). */
export type DeviceId = Brand<string, 'DeviceId'>;

export const DEFAULT_LIBRARY = 'default' as LibraryId;
