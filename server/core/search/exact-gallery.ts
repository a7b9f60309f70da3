// One group's faces for exact 1:N search: the int8 codes of all bound
// features in one contiguous matrix, searched by usearch's vectorised
// brute-force kernel (no JavaScript loop over the gallery). Removal moves
// the last row into the freed one, so the matrix stays dense.
import { exactSearch, MetricKind } from 'usearch';
import type { BindingUser } from '../../../storage/store.js';
import type { FaceToken } from '../ids.js';
import type { Gallery } from './gallery.js';
import { ownBuffer } from './own-buffer.js';
import { cosineOfCodeDot } from './quantize.js';

/** A candidate from the int8 search: its approximate cosine, re-ranked later with float32. */
export interface Candidate {
  faceToken: FaceToken;
  approxCosine: number;
}

const INITIAL_ROWS = 64;
/** takeLast gives memory back only when at most this many rows are left to copy (2 MB of codes). */
const SHRINK_MAX_ROWS = 4096;

export class ExactGallery implements Gallery {
  private codes: Int8Array;
  /** The matrix is referenced by a save in progress (shareRows): copy before changing it. */
  private shared = false;
  private readonly tokens: FaceToken[] = [];
  private readonly users: Array<BindingUser | undefined> = [];
  private readonly rowOf = new Map<FaceToken, number>();
  private readonly tokensOfUserId = new Map<string, Set<FaceToken>>();

  constructor(
    readonly dimensions: number,
    /** Threads for one search; usearch runs them in native code. */
    private readonly threads = 1,
    /**
     * How much the matrix grows when full: 2 for a gallery of its own; the
     * approximate index's lists use 1.25, since a thousand of them stay at
     * whatever capacity they reached (at 2 they held about 40% slack).
     */
    private readonly growth = 2,
  ) {
    this.codes = new Int8Array(INITIAL_ROWS * dimensions);
  }

  /**
   * A gallery of these rows as they are (`codes`: tokens.length x
   * dimensions, taken over, not copied): how a saved list is loaded.
   */
  static fromRows(dimensions: number, threads: number, growth: number, tokens: FaceToken[], users: Array<BindingUser | undefined>, codes: Int8Array): ExactGallery {
    if (codes.length !== tokens.length * dimensions || users.length !== tokens.length) throw new RangeError('rows do not match their tokens');
    const gallery = new ExactGallery(dimensions, threads, growth);
    gallery.codes = codes.length > 0 ? ownBuffer(codes) : gallery.codes;
    tokens.forEach((token, row) => {
      if (gallery.rowOf.has(token)) throw new RangeError(`token ${token} twice`);
      gallery.tokens.push(token);
      gallery.users.push(undefined);
      gallery.rowOf.set(token, row);
      gallery.setUser(row, users[row]);
    });
    return gallery;
  }

  get size(): number {
    return this.tokens.length;
  }

  /** Replaces the user of a face that is here (its code unchanged); false when it is not here. */
  updateUser(token: FaceToken, user: BindingUser | undefined): boolean {
    const row = this.rowOf.get(token);
    if (row === undefined) return false;
    this.forgetUser(token, this.users[row]);
    this.setUser(row, user);
    return true;
  }

  /** Up to `max` rows spread evenly over the gallery, copied into a buffer of their own (a training sample). */
  sampleRows(max: number): Int8Array {
    const n = this.tokens.length;
    const count = Math.min(n, max);
    const d = this.dimensions;
    const out = new Int8Array(count * d);
    for (let i = 0; i < count; i++) {
      const row = Math.floor((i * n) / count);
      out.set(this.codes.subarray(row * d, (row + 1) * d), i * d);
    }
    return out;
  }

  /**
   * Every row as it is now, for a save written while the gallery changes:
   * tokens and users copied, the codes shared (copy-on-write: the next
   * change copies the matrix first, so the view given out never changes).
   * Copying the codes of a million faces up front took over a second,
   * mostly first-touch page faults of the fresh memory.
   */
  shareRows(): { tokens: FaceToken[]; users: Array<BindingUser | undefined>; codes: Int8Array } {
    this.shared = true;
    return { tokens: this.tokens.slice(), users: this.users.slice(), codes: this.codes.subarray(0, this.tokens.length * this.dimensions) };
  }

  /** Before any change of the matrix: a shared one is copied first. */
  private own(): void {
    if (!this.shared) return;
    this.codes = this.codes.slice();
    this.shared = false;
  }

  has(token: FaceToken): boolean {
    return this.rowOf.has(token);
  }

  /** The user a bound face belongs to, when it was bound with one. */
  userOf(token: FaceToken): BindingUser | undefined {
    const row = this.rowOf.get(token);
    return row === undefined ? undefined : this.users[row];
  }

  /** Faces bound with this user id (usually a handful). */
  tokensOfUser(userId: string): FaceToken[] {
    return [...(this.tokensOfUserId.get(userId) ?? [])];
  }

  /** Adds the face, or replaces its code and user when it is already here. */
  upsert(token: FaceToken, code: Int8Array, user?: BindingUser): void {
    this.own();
    if (code.length !== this.dimensions) throw new RangeError(`code length ${code.length}, expected ${this.dimensions}`);
    let row = this.rowOf.get(token);
    if (row === undefined) {
      row = this.tokens.length;
      this.grow(row + 1);
      this.tokens.push(token);
      this.users.push(undefined);
      this.rowOf.set(token, row);
    } else {
      this.forgetUser(token, this.users[row]);
    }
    this.codes.set(code, row * this.dimensions);
    this.setUser(row, user);
  }

  /** Only the two fields: a BindingRecord passed in also carries its token and time. */
  private setUser(row: number, user: BindingUser | undefined): void {
    const kept: BindingUser | undefined =
      user && (user.userId !== undefined || user.userInfo !== undefined)
        ? { ...(user.userId !== undefined ? { userId: user.userId } : {}), ...(user.userInfo !== undefined ? { userInfo: user.userInfo } : {}) }
        : undefined;
    this.users[row] = kept;
    if (kept?.userId !== undefined) {
      let set = this.tokensOfUserId.get(kept.userId);
      if (!set) this.tokensOfUserId.set(kept.userId, (set = new Set()));
      set.add(this.tokens[row]!);
    }
  }

  /** False when the face was not here. */
  remove(token: FaceToken): boolean {
    const row = this.rowOf.get(token);
    if (row === undefined) return false;
    this.own();
    this.forgetUser(token, this.users[row]);
    const last = this.tokens.length - 1;
    if (row !== last) {
      const moved = this.tokens[last]!;
      this.codes.copyWithin(row * this.dimensions, last * this.dimensions, (last + 1) * this.dimensions);
      this.tokens[row] = moved;
      this.users[row] = this.users[last];
      this.rowOf.set(moved, row);
    }
    this.tokens.pop();
    this.users.pop();
    this.rowOf.delete(token);
    return true;
  }

  /** The `k` faces of largest int8 dot product with `query` (a code), best first. */
  candidates(query: Int8Array, k: number): Candidate[] {
    const n = this.tokens.length;
    const count = Math.min(k, n);
    if (count <= 0) return [];
    // this.codes always starts its buffer (own-buffer.ts: usearch ignores a view's offset).
    const found = exactSearch(this.codes.subarray(0, n * this.dimensions), ownBuffer(query), this.dimensions, count, MetricKind.IP, this.threads);
    const out: Candidate[] = [];
    for (let i = 0; i < found.keys.length; i++) {
      const row = Number(found.keys[i]);
      // usearch pads missing results; its i8 inner-product "distance" is the negated dot.
      if (row >= n) continue;
      out.push({ faceToken: this.tokens[row]!, approxCosine: cosineOfCodeDot(-found.distances[i]!) });
    }
    return out;
  }

  /**
   * Takes the last `count` rows out (tokens, users, their codes as one
   * matrix): how the approximate index moves staged faces into its graph.
   */
  takeLast(count: number): { tokens: FaceToken[]; users: Array<BindingUser | undefined>; codes: Int8Array } {
    this.own();
    const n = this.tokens.length;
    const from = Math.max(0, n - count);
    const codes = this.codes.slice(from * this.dimensions, n * this.dimensions);
    const tokens = this.tokens.splice(from);
    const users = this.users.splice(from);
    tokens.forEach((token, i) => {
      this.rowOf.delete(token);
      this.forgetUser(token, users[i]);
    });
    // Emptied by the move: give the matrix back rather than keep it at its largest, once
    // what is left is small (copying the rest of a large matrix would hold the caller for
    // hundreds of ms: 268 MB when a million-face staging area is a quarter drained).
    const capacity = this.codes.length / this.dimensions;
    if (capacity > INITIAL_ROWS && this.tokens.length <= SHRINK_MAX_ROWS && this.tokens.length * 4 < capacity) {
      this.codes = this.codes.slice(0, Math.max(INITIAL_ROWS, this.tokens.length * 2) * this.dimensions);
    }
    return { tokens, users, codes };
  }

  /** Every face with its user, for a snapshot of the gallery. */
  *entries(): IterableIterator<{ token: FaceToken; user: BindingUser | undefined }> {
    for (let row = 0; row < this.tokens.length; row++) yield { token: this.tokens[row]!, user: this.users[row] };
  }

  /** Bytes held: the code matrix, plus an estimate for the token and user bookkeeping. */
  get bytes(): number {
    return this.codes.byteLength + this.tokens.length * BOOKKEEPING_BYTES_PER_FACE;
  }

  /** Makes room for `rows` faces at once (one copy now instead of several later). */
  reserve(rows: number): void {
    this.grow(rows);
  }

  private grow(rows: number): void {
    if (rows * this.dimensions <= this.codes.length) return;
    // A new matrix: the shared one stays as it was.
    this.shared = false;
    const next = new Int8Array(Math.max(rows, Math.ceil((this.codes.length / this.dimensions) * this.growth)) * this.dimensions);
    next.set(this.codes);
    this.codes = next;
  }

  private forgetUser(token: FaceToken, user: BindingUser | undefined): void {
    if (user?.userId === undefined) return;
    const set = this.tokensOfUserId.get(user.userId);
    set?.delete(token);
    if (set?.size === 0) this.tokensOfUserId.delete(user.userId);
  }
}

/**
 * Rough V8 cost of one face's bookkeeping: a 24-character token string
 * (~56 B) held by an array slot and a Map entry (~60 B), a user slot.
 * Measured figures are in `npm run bench:search`.
 */
const BOOKKEEPING_BYTES_PER_FACE = 150;
