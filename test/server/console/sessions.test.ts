import { expect } from 'chai';
import { ConsoleSessions } from '../../../server/console/sessions.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('ConsoleSessions', function () {
  it('creates sessions with distinct random ids and CSRF tokens that expire after the TTL', function () {
    const time = clock();
    const sessions = new ConsoleSessions({ ttlMs: 60_000, maxSessions: 10, now: time.now });
    const a = sessions.create();
    const b = sessions.create();
    expect(a.id).to.not.equal(b.id);
    expect(a.csrf).to.not.equal(a.id).and.not.equal(b.csrf);
    expect(a.id).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(a.expiresAt).to.equal(time.now() + 60_000);
    time.advance(59_999);
    expect(sessions.get(a.id)).to.equal(a);
    time.advance(1);
    expect(sessions.get(a.id)).to.equal(undefined);
    expect(sessions.get(b.id)).to.equal(undefined);
    expect(sessions.size).to.equal(0);
  });

  it('forgets an ended session, unknown ids, and everything on close()', function () {
    const sessions = new ConsoleSessions({ ttlMs: 60_000, maxSessions: 10 });
    const a = sessions.create();
    const b = sessions.create();
    sessions.end(a.id);
    expect(sessions.get(a.id)).to.equal(undefined);
    expect(sessions.get('made-up')).to.equal(undefined);
    expect(sessions.get(undefined)).to.equal(undefined);
    sessions.close();
    expect(sessions.get(b.id)).to.equal(undefined);
  });

  it('holds at most maxSessions, ending the oldest first', function () {
    const sessions = new ConsoleSessions({ ttlMs: 60_000, maxSessions: 3 });
    const made = Array.from({ length: 5 }, () => sessions.create());
    expect(sessions.size).to.equal(3);
    expect(made.map((s) => sessions.get(s.id) !== undefined)).to.deep.equal([false, false, true, true, true]);
  });

  it('matches the CSRF token exactly', function () {
    const sessions = new ConsoleSessions({ ttlMs: 60_000, maxSessions: 3 });
    const s = sessions.create();
    expect(sessions.csrfMatches(s, s.csrf)).to.equal(true);
    expect(sessions.csrfMatches(s, s.csrf.slice(1))).to.equal(false);
    expect(sessions.csrfMatches(s, '')).to.equal(false);
    expect(sessions.csrfMatches(s, undefined)).to.equal(false);
  });
});
