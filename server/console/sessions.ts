// Browser sessions of the web console. The admin key is typed once into the
// sign-in form; the browser then holds only a random session id in an
// HttpOnly cookie (an <img> cannot send a key header, and script must never
// see the key). Each session has its own CSRF token that every write must
// echo in a header. Sessions live in memory: a restart signs everyone out,
// which is the safe direction.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ConsoleSession {
  /** The cookie value. */
  id: string;
  /** Echoed by the console in `X-CSRF-Token` on every write. */
  csrf: string;
  createdAt: number;
  /** Absolute expiry (ms since epoch): a stolen cookie stops working by then at the latest. */
  expiresAt: number;
}

export interface ConsoleSessionOptions {
  /** Lifetime of a session, ms. */
  ttlMs: number;
  /** Most sessions held at once; signing in beyond it ends the oldest (bounds memory). */
  maxSessions: number;
  /** Clock, for tests. */
  now?: () => number;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export class ConsoleSessions {
  // Map keeps insertion order: the first entry is the oldest session.
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #now: () => number;

  constructor(private readonly options: ConsoleSessionOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** A new session (after the caller checked the admin key). */
  create(): ConsoleSession {
    this.#prune();
    while (this.#sessions.size >= this.options.maxSessions) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    const createdAt = this.#now();
    const session: ConsoleSession = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      createdAt,
      expiresAt: createdAt + this.options.ttlMs,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id; an expired one is forgotten and undefined. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (this.#now() >= session.expiresAt) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** Whether the presented token is this session's CSRF token (constant time). */
  csrfMatches(session: ConsoleSession, presented: string | undefined): boolean {
    return presented !== undefined && presented.length > 0 && sameSecret(presented, session.csrf);
  }

  end(id: string): void {
    this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Forgets every session. */
  close(): void {
    this.#sessions.clear();
  }

  #prune(): void {
    const now = this.#now();
    for (const [id, session] of this.#sessions) if (now >= session.expiresAt) this.#sessions.delete(id);
  }
}
