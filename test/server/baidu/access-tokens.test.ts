import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessTokens, TOKEN_LIFETIME_S } from '../../../server/baidu/access-tokens.js';

describe('AccessTokens', function () {
  let dir: string;
  let now: number;
  const credential = { apiKey: 'key1', secretKey: 'secret1', appid: 'app_1' };
  const tokens = (credentials = [credential]) => new AccessTokens(dir, credentials, () => now);
  const issue = (t: AccessTokens) => {
    const grant = t.grant({ grant_type: 'client_credentials', client_id: 'key1', client_secret: 'secret1' });
    if (!grant.ok) throw new Error('not granted');
    return grant.body;
  };

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'baidu-tokens-'));
    now = 1_700_000_000_000;
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants 30-day tokens with brain_all_scope that open the credential\'s appid, also with ?aipSdk=node appended', function () {
    const t = tokens();
    const body = issue(t);
    expect(body.expires_in).to.equal(TOKEN_LIFETIME_S).and.to.equal(2_592_000);
    expect(body.scope.split(' ')).to.include('brain_all_scope');
    expect(t.check(body.access_token)).to.deep.equal({ ok: true, library: 'app_1' });
    expect(t.check(`${body.access_token}?aipSdk=node`)).to.deep.equal({ ok: true, library: 'app_1' });
    expect(statSync(join(dir, 'baidu-token.key')).mode & 0o777).to.equal(0o600);
  });

  it('refuses wrong grants the way Baidu does', function () {
    const t = tokens();
    expect(t.grant({ grant_type: 'password', client_id: 'key1', client_secret: 'secret1' })).to.deep.include({ ok: false, status: 400 });
    const unknown = t.grant({ grant_type: 'client_credentials', client_id: 'nope', client_secret: 'secret1' });
    expect(unknown).to.deep.equal({ ok: false, status: 401, body: { error: 'invalid_client', error_description: 'unknown client id' } });
    const wrong = t.grant({ grant_type: 'client_credentials', client_id: 'key1', client_secret: 'secret2' });
    expect(wrong).to.deep.equal({ ok: false, status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed' } });
  });

  it('keeps tokens valid across a restart, expires them after 30 days, and drops them with their credential', function () {
    const token = issue(tokens()).access_token;
    expect(tokens().check(token).ok).to.equal(true);
    now += (TOKEN_LIFETIME_S - 1) * 1000;
    expect(tokens().check(token).ok).to.equal(true);
    now += 2000;
    expect(tokens().check(token)).to.deep.equal({ ok: false, reason: 'expired' });
    now -= 2000;
    expect(tokens([{ ...credential, secretKey: 'rotated' }]).check(token)).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(tokens([{ ...credential, appid: 'other' }]).check(token)).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(tokens([]).check(token)).to.deep.equal({ ok: false, reason: 'invalid' });
  });

  it('refuses forged, truncated and missing tokens', function () {
    const t = tokens();
    const token = issue(t).access_token;
    const parts = token.split('.');
    const forged = [parts[0], parts[1]!.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')), parts[2], parts[3], parts[4]].join('.');
    expect(t.check(forged)).to.deep.equal({ ok: false, reason: 'invalid' });
    const later = [parts[0], parts[1], parts[2], String(Number(parts[3]) + 1000), parts[4]].join('.');
    expect(t.check(later)).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(t.check(parts.slice(0, 4).join('.'))).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(t.check('')).to.deep.equal({ ok: false, reason: 'missing' });
    expect(t.check(undefined)).to.deep.equal({ ok: false, reason: 'missing' });
    // A token from another data dir (another server secret) is not ours.
    const otherDir = mkdtempSync(join(tmpdir(), 'baidu-tokens-'));
    try {
      expect(new AccessTokens(otherDir, [credential], () => now).check(token)).to.deep.equal({ ok: false, reason: 'invalid' });
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
