import { expect } from 'chai';
import { ConsoleSessions } from '../../../server/console/sessions.js';
import { ConsoleSessionCheck, SESSION_COOKIE, sessionCookie } from '../../../server/console/session-check.js';

describe('ConsoleSessionCheck', function () {
  // A clock that stands still: the session made when this file loads is still live when its tests run, minutes later.
  const sessions = new ConsoleSessions({ ttlMs: 60_000, maxSessions: 10, now: () => 1_000_000 });
  const check = new ConsoleSessionCheck(sessions);
  const session = sessions.create();
  const cookie = `other=1; ${SESSION_COOKIE}=${session.id}; theme=dark`;

  it('reads the session cookie among others', function () {
    expect(sessionCookie({ cookie })).to.equal(session.id);
    expect(sessionCookie({ cookie: 'a=b' })).to.equal(undefined);
    expect(sessionCookie({ cookie: `${SESSION_COOKIE}=` })).to.equal(undefined);
    expect(sessionCookie({})).to.equal(undefined);
  });

  it('admits reads with the cookie alone, writes only with the CSRF token', function () {
    expect(check.admits({ cookie }, 'GET')).to.equal(true);
    expect(check.admits({ cookie }, 'HEAD')).to.equal(true);
    expect(check.admits({ cookie }, 'POST')).to.equal(false);
    expect(check.admits({ cookie, 'x-csrf-token': 'forged' }, 'POST')).to.equal(false);
    expect(check.admits({ cookie, 'x-csrf-token': session.csrf }, 'POST')).to.equal(true);
    expect(check.admits({ cookie, 'x-csrf-token': session.csrf }, 'DELETE')).to.equal(true);
  });

  it('treats an unknown method as a write (the push upgrade cannot ride on a session)', function () {
    expect(check.admits({ cookie }, undefined)).to.equal(false);
  });

  it('admits nothing without a live session, CSRF token or not', function () {
    const other = new ConsoleSessions({ ttlMs: 60_000, maxSessions: 10 }).create();
    expect(check.admits({ cookie: `${SESSION_COOKIE}=${other.id}`, 'x-csrf-token': other.csrf }, 'POST')).to.equal(false);
    expect(check.admits({ 'x-csrf-token': session.csrf }, 'POST')).to.equal(false);
    expect(check.admits({}, 'GET')).to.equal(false);
  });
});
