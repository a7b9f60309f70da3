// OAuth access tokens for the cloud paths (/oauth/2.0/token, grant_type
// client_credentials), as Baidu issues them: valid 30 days. A token is
// self-contained and signed, `24.<mac>.2592000.<expires s>.<client id>`, the
// MAC an HMAC-SHA256 over the client id, its secret's hash, its appid and
// the expiry, keyed by a server secret kept in the data dir (created once,
// mode 0600). So tokens survive a restart without being stored, and die when
// the credential is removed or its secret or appid changes.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LibraryId } from '../core/ids.js';
import type { BaiduCredential } from '../config.js';

/** Baidu's token lifetime, seconds (the SDK refetches before every call below one day). */
export const TOKEN_LIFETIME_S = 2_592_000;
/** `brain_all_scope` is what the SDK looks for; without it the SDK signs requests with bce-auth-v1 instead. */
export const TOKEN_SCOPE = 'public brain_all_scope vis-faceverify_faceverify_h5-face-liveness';

export type TokenCheck = { ok: true; library: LibraryId } | { ok: false; reason: 'missing' | 'invalid' | 'expired' };

export type TokenGrant =
  | { ok: true; body: { access_token: string; expires_in: number; scope: string; session_key: string; session_secret: string; refresh_token: string } }
  | { ok: false; status: number; body: { error: string; error_description: string } };

const SECRET_FILE = 'baidu-token.key';

function loadOrCreateSecret(dataDir: string): Buffer {
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length >= 32) return Buffer.from(stored, 'base64url');
  }
  const secret = randomBytes(32);
  writeFileSync(path, secret.toString('base64url') + '\n', { mode: 0o600 });
  return secret;
}

export class AccessTokens {
  private readonly secret: Buffer;
  private readonly byKey: Map<string, BaiduCredential>;

  constructor(
    dataDir: string,
    credentials: readonly BaiduCredential[],
    private readonly nowMs: () => number = Date.now,
  ) {
    this.secret = loadOrCreateSecret(dataDir);
    this.byKey = new Map(credentials.map((credential) => [credential.apiKey, credential]));
  }

  /** The token endpoint's answer (Baidu's `{error, error_description}` for refusals). */
  grant(params: Record<string, unknown>): TokenGrant {
    if (params.grant_type !== 'client_credentials') {
      return { ok: false, status: 400, body: { error: 'unsupported_grant_type', error_description: 'The authorization grant type is not supported' } };
    }
    const credential = typeof params.client_id === 'string' ? this.byKey.get(params.client_id) : undefined;
    if (!credential) return { ok: false, status: 401, body: { error: 'invalid_client', error_description: 'unknown client id' } };
    if (typeof params.client_secret !== 'string' || !sameText(params.client_secret, credential.secretKey)) {
      return { ok: false, status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed' } };
    }
    const expires = Math.floor(this.nowMs() / 1000) + TOKEN_LIFETIME_S;
    const clientId = Buffer.from(credential.apiKey, 'utf8').toString('base64url');
    const token = `24.${this.mac(credential, expires)}.${TOKEN_LIFETIME_S}.${expires}.${clientId}`;
    return {
      ok: true,
      body: { access_token: token, expires_in: TOKEN_LIFETIME_S, scope: TOKEN_SCOPE, session_key: '', session_secret: '', refresh_token: '' },
    };
  }

  /**
   * Checks a presented token. The Node SDK appends `?aipSdk=node` to the URL
   * after the token, so the value arrives as `TOKEN?aipSdk=node`: whatever
   * follows a `?` is not part of the token.
   */
  check(presented: unknown): TokenCheck {
    if (typeof presented !== 'string' || presented === '') return { ok: false, reason: 'missing' };
    const token = presented.split('?')[0]!;
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== '24' || parts[2] !== String(TOKEN_LIFETIME_S)) return { ok: false, reason: 'invalid' };
    const expires = Number(parts[3]);
    const credential = this.byKey.get(Buffer.from(parts[4]!, 'base64url').toString('utf8'));
    if (!credential || !Number.isSafeInteger(expires) || !sameText(parts[1]!, this.mac(credential, expires))) {
      return { ok: false, reason: 'invalid' };
    }
    if (expires * 1000 <= this.nowMs()) return { ok: false, reason: 'expired' };
    return { ok: true, library: credential.appid as LibraryId };
  }

  private mac(credential: BaiduCredential, expires: number): string {
    const secretHash = createHash('sha256').update(credential.secretKey).digest('hex');
    return createHmac('sha256', this.secret)
      .update([credential.apiKey, secretHash, credential.appid, String(expires)].join('\n'))
      .digest('hex')
      .slice(0, 32);
  }
}

/** Constant-time comparison of two strings of any lengths. */
function sameText(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
