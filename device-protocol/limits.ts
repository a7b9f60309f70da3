// Bounds on everything a terminal names, in a sync request (§2) and in a
// ClientHello (§12): the server checks them before any lookup, so a request
// cannot make it store, index or echo unbounded strings. Values in §15.
import { syncError, SyncErrorCode } from './errors.js';
import type { ClientHello } from './push.js';

/** Groups in one sync request or one ClientHello. */
export const MAX_GROUPS_PER_REQUEST = 2000;
/** Characters of a group name (the FacePass dialect itself allows 16). */
export const MAX_GROUP_NAME_LENGTH = 128;
/** Characters of a device id: `X-Device-Id`, `ClientHello.device_id`. */
export const MAX_DEVICE_ID_LENGTH = 128;
/** Characters of `info.version` and `info.search_model`. */
export const MAX_INFO_STRING_LENGTH = 128;

/** 1-128 printable ASCII characters, no spaces (it ends up in headers, logs and keys). */
const DEVICE_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_DEVICE_ID_LENGTH}}$`);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function isValidDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID.test(value);
}

/** Non-empty, at most MAX_GROUP_NAME_LENGTH characters, no control characters. */
export function isValidGroupName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_GROUP_NAME_LENGTH && !CONTROL.test(value);
}

/** At most MAX_INFO_STRING_LENGTH characters, no control characters (may be empty). */
export function isValidInfoString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_INFO_STRING_LENGTH && !CONTROL.test(value);
}

/** Throws SYNC_ERR_BAD_FRAME (close 4400) for a hello outside the bounds above; an empty device_id means "not named". */
export function checkClientHello(hello: ClientHello): void {
  const bad = (what: string) => syncError(SyncErrorCode.BadFrame, `ClientHello: ${what}`);
  if (hello.deviceId !== '' && !isValidDeviceId(hello.deviceId)) throw bad(`device_id must be 1-${MAX_DEVICE_ID_LENGTH} printable ASCII characters`);
  if (hello.groups.length > MAX_GROUPS_PER_REQUEST) throw bad(`more than ${MAX_GROUPS_PER_REQUEST} groups`);
  for (const group of hello.groups) {
    if (!isValidGroupName(group.groupName)) throw bad(`group_name must be 1-${MAX_GROUP_NAME_LENGTH} characters without control characters`);
  }
}
