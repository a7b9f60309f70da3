// Refusals in words an administrator understands. The server's messages are
// the FacePass codes (`BAD_QUALITY: Yaw,Blurriness`); these say what is wrong
// with the photo, and the code stays beside them for whoever reads the API docs.

const CHECKS: Record<string, string> = {
  FaceMin: 'the face is too small (it must be at least 100 × 100 pixels)',
  Yaw: 'the head is turned to the side',
  Pitch: 'the head is tilted up or down',
  Roll: 'the head is tilted sideways',
  Blurriness: 'the photo is blurred',
  Brightness: 'the face is too dark or too bright',
  Std_Deviation: 'the light on the face is too uneven',
};

const MESSAGES: Record<string, string> = {
  FACE_NOT_FOUND: 'no face was found in the photo',
  UNSUPPORTED_IMAGE_FORMAT: 'this file is not a JPEG or PNG image',
  INVALID_IMAGE_RESOLUTION: 'the picture is too large or too small (at most 4096 × 4096 pixels)',
  INVALID_IMAGE_FILE_SIZE: 'the file is too large (at most 4 MB)',
  GROUP_NAME_CONFLICT: 'a group of that name already exists',
  GROUP_NAME_NOT_EXIST: 'the group no longer exists',
  FACE_TOKEN_NOT_EXIST: 'the face no longer exists',
  GROUP_BINDING_NOT_EXIST: 'the face is not in that group',
  UNAUTHORIZED: 'you are not signed in (or your session has ended)',
  INTERNAL_ERROR: 'the server failed; see its log',
};

export interface Refusal {
  /** Plain sentences, one per problem. */
  reasons: string[];
  /** The API's own message, for reference. */
  code: string;
}

/** "BAD_QUALITY: Yaw,Blurriness" -> ["the head is turned to the side", "the photo is blurred"]. */
export function explain(message: string): Refusal {
  const [head = '', rest = ''] = message.split(/:\s*/, 2);
  if (head === 'BAD_QUALITY') {
    const checks = rest.split(',').map((check) => check.trim()).filter(Boolean);
    return { reasons: checks.map((check) => CHECKS[check] ?? check), code: message };
  }
  if (head === 'ILLEGAL_ARGUMENT' || head === 'MISSING_ARGUMENT') {
    return { reasons: [`${head === 'ILLEGAL_ARGUMENT' ? 'not accepted' : 'missing'}: ${rest}`], code: message };
  }
  return { reasons: [MESSAGES[head] ?? message], code: message };
}

export const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
