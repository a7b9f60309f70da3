// app_id + app_secret, carried in every SID body, checked against the
// configured apps (SID_CREDENTIALS). Each app works on one face library
// (a Baidu appid). Secrets are compared in constant time, by digest so
// their lengths do not show either.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SidCredential } from '../config.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import type { LibraryId } from '../core/ids.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export class SidCredentials {
  private readonly apps: Map<string, { secret: Buffer; library: LibraryId }>;

  constructor(credentials: readonly SidCredential[]) {
    this.apps = new Map(credentials.map((c) => [c.appId, { secret: digest(c.appSecret), library: c.appid as LibraryId }]));
  }

  /** The library of the app; UNAUTHORIZED (nothing else said) when app_id or app_secret is missing or wrong. */
  library(appId: unknown, appSecret: unknown): LibraryId {
    const refuse = () => new FaceError(ErrorCode.Unauthorized, 'app_id or app_secret is wrong');
    if (typeof appId !== 'string' || typeof appSecret !== 'string' || appId === '' || appSecret === '') throw refuse();
    const app = this.apps.get(appId);
    // Hash even for an unknown app, so timing says nothing about which app ids exist.
    const given = digest(appSecret);
    if (!app || !timingSafeEqual(given, app.secret)) throw refuse();
    return app.library;
  }
}
