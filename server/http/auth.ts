// Key checks for HTTP requests and WebSocket upgrades. A key travels as
// `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Comparison hashes
// both sides first so timingSafeEqual sees equal lengths and the check takes
// the same time whatever the guess.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AccessKeys } from '../keys.js';
import type { AuthMode } from '../config.js';

/** Who may call: admins only, terminals too (sync, status, push), or anyone (version). */
export type Audience = 'admin' | 'device' | 'public';

export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : undefined;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

function sameKey(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Admits a request carrying no key by other means (the web console's session cookie, with CSRF on writes). */
export interface SessionCheck {
  /** `method` undefined counts as a write. */
  admits(headers: IncomingHttpHeaders, method: string | undefined): boolean;
}

/** The key a caller claims to be, without granting anything: the console's sign-in form uses it. */
export type KeyRoleOf = 'admin' | 'device' | undefined;

export class Authenticator {
  constructor(
    private readonly mode: AuthMode,
    private readonly keys: Pick<AccessKeys, 'admin' | 'device'>,
    private readonly sessions?: SessionCheck,
  ) {}

  /**
   * Whether these headers grant access for the audience. The admin key opens
   * everything; so does a console session (admin level), when no key is sent.
   * A wrong key is refused even next to a valid session cookie.
   */
  allows(headers: IncomingHttpHeaders, audience: Audience, method?: string): boolean {
    if (this.mode === 'off' || audience === 'public') return true;
    const key = presentedKey(headers);
    if (key === undefined) return this.sessions?.admits(headers, method) ?? false;
    if (sameKey(key, this.keys.admin)) return true;
    return audience === 'device' && sameKey(key, this.keys.device);
  }

  /** Which configured key this is, compared in constant time. */
  roleOf(key: string): KeyRoleOf {
    if (sameKey(key, this.keys.admin)) return 'admin';
    if (sameKey(key, this.keys.device)) return 'device';
    return undefined;
  }
}
