// Key checks for HTTP requests and WebSocket upgrades. A key travels as
// `Authorization: Bearer <key>` or `X-Api-Key: <key>`. The admin and shared
// device keys are compared as hashes so timingSafeEqual sees equal lengths
// and the check takes the same time whatever the guess; a per-terminal key
// is looked up by its SHA-256 (only the hash is stored).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AccessKeys } from '../keys.js';
import type { AuthMode } from '../config.js';
import type { DeviceKeyStore } from '../../storage/device-keys.js';
import { deviceKeyHash } from '../core/device-registry.js';

/** Who may call: admins only, terminals too (sync, status, push), or anyone (version). */
export type Audience = 'admin' | 'device' | 'public';

/**
 * Who is calling. `device` with a `deviceId` holds a per-terminal key and may
 * act only as that device; `deviceId: null` is the shared DEVICE_KEY (or
 * AUTH=off), which may name any device not registered with its own key.
 */
export type Principal = { role: 'admin' } | { role: 'device'; deviceId: string | null };

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

/** A configured key with its digest, computed once (not on every request) and again only if the key changes. */
class ExpectedKey {
  private key: string | undefined;
  private hash: Buffer | undefined;

  constructor(private readonly current: () => string) {}

  digest(): Buffer {
    const key = this.current();
    if (key !== this.key || this.hash === undefined) {
      this.key = key;
      this.hash = digest(key);
    }
    return this.hash;
  }
}

/** `presented` is the digest of the key presented, hashed once for all the comparisons. */
function sameKey(presented: Buffer, expected: ExpectedKey): boolean {
  return timingSafeEqual(presented, expected.digest());
}

/** Admits a request carrying no key by other means (the web console's session cookie, with CSRF on writes). */
export interface SessionCheck {
  /** `method` undefined counts as a write. */
  admits(headers: IncomingHttpHeaders, method: string | undefined): boolean;
}

/** The key a caller claims to be, without granting anything: the console's sign-in form uses it. */
export type KeyRoleOf = 'admin' | 'device' | undefined;

export class Authenticator {
  private readonly admin: ExpectedKey;
  private readonly device: ExpectedKey;

  constructor(
    private readonly mode: AuthMode,
    keys: Pick<AccessKeys, 'admin' | 'device'>,
    private readonly sessions?: SessionCheck,
    private readonly devices?: Pick<DeviceKeyStore, 'deviceOfKey' | 'isRegistered'>,
  ) {
    this.admin = new ExpectedKey(() => keys.admin);
    this.device = new ExpectedKey(() => keys.device);
  }

  /**
   * Who the headers' key belongs to, or null for no or a wrong key. With no
   * key at all, a console session (admin level) counts; a wrong key is
   * refused even next to a valid session cookie. AUTH=off makes everyone an admin.
   */
  identify(headers: IncomingHttpHeaders, method?: string): Principal | null {
    if (this.mode === 'off') return { role: 'admin' };
    const key = presentedKey(headers);
    if (key === undefined) return this.sessions?.admits(headers, method) ? { role: 'admin' } : null;
    const presented = digest(key);
    if (sameKey(presented, this.admin)) return { role: 'admin' };
    if (sameKey(presented, this.device)) return { role: 'device', deviceId: null };
    const deviceId = this.devices?.deviceOfKey(deviceKeyHash(key));
    return deviceId === undefined ? null : { role: 'device', deviceId };
  }

  /** Whether these headers grant access for the audience. The admin key (or a console session) opens everything. */
  allows(headers: IncomingHttpHeaders, audience: Audience, method?: string): boolean {
    if (this.mode === 'off' || audience === 'public') return true;
    const principal = this.identify(headers, method);
    if (principal === null) return false;
    return principal.role === 'admin' || audience === 'device';
  }

  /**
   * Whether the principal may act as `deviceId` (sync, status, push): the
   * admin always; a per-terminal key only as its own device; the shared key
   * as any device that has no key of its own.
   */
  mayActAs(principal: Principal, deviceId: string): boolean {
    if (principal.role === 'admin') return true;
    if (principal.deviceId !== null) return principal.deviceId === deviceId;
    return !(this.devices?.isRegistered(deviceId) ?? false);
  }

  /** Which configured key this is, compared in constant time. */
  roleOf(key: string): KeyRoleOf {
    const presented = digest(key);
    if (sameKey(presented, this.admin)) return 'admin';
    if (sameKey(presented, this.device)) return 'device';
    return undefined;
  }
}
