// How a console session stands in for the admin key on the ordinary API:
// the session cookie names a live session, and any request that can change
// something also carries that session's CSRF token in `X-CSRF-Token`. The
// cookie is SameSite=Strict too; the token is the second lock (a form post
// from another site can send neither, but an older browser might send the
// cookie).
import type { IncomingHttpHeaders } from 'node:http';
import type { SessionCheck } from '../http/auth.js';
import type { ConsoleSession, ConsoleSessions } from './sessions.js';

export const SESSION_COOKIE = 'facepass_console';
export const CSRF_HEADER = 'x-csrf-token';

/** Methods that never change anything here; everything else needs the CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The session cookie's value from a Cookie header, if present. */
export function sessionCookie(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export class ConsoleSessionCheck implements SessionCheck {
  constructor(private readonly sessions: ConsoleSessions) {}

  /** The live session of this request, CSRF not checked. */
  sessionOf(headers: IncomingHttpHeaders): ConsoleSession | undefined {
    return this.sessions.get(sessionCookie(headers));
  }

  admits(headers: IncomingHttpHeaders, method: string | undefined): boolean {
    const session = this.sessionOf(headers);
    if (!session) return false;
    if (method !== undefined && SAFE_METHODS.has(method.toUpperCase())) return true;
    const token = headers[CSRF_HEADER];
    return this.sessions.csrfMatches(session, typeof token === 'string' ? token : undefined);
  }
}
