// One large group's faces for approximate 1:N search: a usearch HNSW graph
// over the int8 codes (hnsw.ts), plus a small exact "staging" gallery of the
// faces not yet in the graph.
//
// A bind lands in staging at once (searched exactly, so it is found by the
// next search), and a background task of FaceIndex moves staged faces into
// the graph a slice at a time (`indexStaged`), so no insertion burst blocks
// the event loop for long. An unbind or face delete removes the face from
// staging, or from the graph (usearch `remove`) and from the key -> token
// table that every graph result is looked up in: a removed key is never
// returned, whatever the graph still holds.
//
// A face's feature changes only through a model upgrade (FaceIndex
// refreshFeatures passes its new code); replays after a restart pass an
// empty code for faces already in the graph, to update their user only.
import type { BindingUser } from '../../../storage/store.js';
import type { FaceToken } from '../ids.js';
import { ExactGallery, type Candidate } from './exact-gallery.js';
import type { Gallery } from './gallery.js';
import { Hnsw, type HnswParams } from './hnsw.js';
import { cosineOfCodeDot } from './quantize.js';

/** A face in the graph, as persisted: [key, token, userId?, userInfo?]. */
export type GraphEntry = [key: number, token: FaceToken, userId?: string | null, userInfo?: string | null];

export class ApproxGallery implements Gallery {
  private readonly keyOf = new Map<FaceToken, number>();
  private readonly tokenAt: Array<FaceToken | undefined> = [];
  /** Users of graph faces bound with one. */
  private readonly users = new Map<FaceToken, BindingUser>();
  private readonly tokensOfUserId = new Map<string, Set<FaceToken>>();
  private nextKey = 0;
  /** Bumped by every effective change; the saver compares it with what it saved. */
  changes = 0;

  private constructor(
    readonly dimensions: number,
    private readonly graph: Hnsw,
    private readonly searchThreads: number,
    /** Faces not yet in the graph, searched exactly. */
    private readonly staging: ExactGallery,
  ) {}

  /** Takes over an exact gallery's faces as staged faces (nothing is copied); the graph fills in the background. */
  static fromExact(exact: ExactGallery, params: HnswParams, searchThreads: number): ApproxGallery {
    return new ApproxGallery(exact.dimensions, new Hnsw(exact.dimensions, params), searchThreads, exact);
  }

  /** A graph read from a file and its entries. */
  static restore(graph: Hnsw, entries: readonly GraphEntry[], nextKey: number, searchThreads: number): ApproxGallery {
    const gallery = new ApproxGallery(graph.dimensions, graph, searchThreads, new ExactGallery(graph.dimensions, searchThreads));
    for (const [key, token, userId, userInfo] of entries) {
      gallery.keyOf.set(token, key);
      gallery.tokenAt[key] = token;
      gallery.setUser(token, userOfEntry(userId, userInfo));
    }
    gallery.nextKey = nextKey;
    return gallery;
  }

  get size(): number {
    return this.keyOf.size + this.staging.size;
  }

  /** Faces waiting for the graph. */
  get staged(): number {
    return this.staging.size;
  }

  /** Faces in the graph. */
  get indexed(): number {
    return this.keyOf.size;
  }

  get params(): Readonly<HnswParams> {
    return this.graph.params;
  }

  has(token: FaceToken): boolean {
    return this.keyOf.has(token) || this.staging.has(token);
  }

  userOf(token: FaceToken): BindingUser | undefined {
    return this.keyOf.has(token) ? this.users.get(token) : this.staging.userOf(token);
  }

  tokensOfUser(userId: string): FaceToken[] {
    return [...(this.tokensOfUserId.get(userId) ?? []), ...this.staging.tokensOfUser(userId)];
  }

  /**
   * A new face goes to staging. For a face already in the graph, an empty
   * `code` updates only its user; a code replaces its vector (a model
   * upgrade's new feature): out of the graph, into staging.
   */
  upsert(token: FaceToken, code: Int8Array, user?: BindingUser): void {
    this.changes++;
    if (this.keyOf.has(token)) {
      if (code.length === 0) {
        this.setUser(token, user);
        return;
      }
      this.remove(token);
    }
    this.staging.upsert(token, code, user);
  }

  remove(token: FaceToken): boolean {
    const key = this.keyOf.get(token);
    if (key === undefined) {
      const removed = this.staging.remove(token);
      if (removed) this.changes++;
      return removed;
    }
    this.graph.remove(BigUint64Array.of(BigInt(key)));
    this.keyOf.delete(token);
    this.tokenAt[key] = undefined;
    this.setUser(token, undefined);
    this.changes++;
    return true;
  }

  candidates(query: Int8Array, k: number): Candidate[] {
    const out: Candidate[] = [];
    if (this.keyOf.size > 0) {
      const found = this.graph.search(query, k, this.searchThreads);
      for (let i = 0; i < found.keys.length; i++) {
        // Only keys the table still maps: a removed face is never a candidate.
        const token = this.tokenAt[Number(found.keys[i])];
        if (token !== undefined) out.push({ faceToken: token, approxCosine: cosineOfCodeDot(found.dots[i]!) });
      }
    }
    if (this.staging.size > 0) {
      out.push(...this.staging.candidates(query, k));
      out.sort((a, b) => b.approxCosine - a.approxCosine);
    }
    return out.slice(0, k);
  }

  /** Moves up to `count` staged faces into the graph (blocks for the native insertion); returns how many. */
  indexStaged(count: number, threads: number): number {
    const { tokens, users, codes } = this.staging.takeLast(count);
    if (tokens.length === 0) return 0;
    const keys = new BigUint64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) keys[i] = BigInt(this.nextKey + i);
    try {
      this.graph.add(keys, codes, threads);
    } catch (err) {
      // Back into staging: the faces stay searchable exactly.
      tokens.forEach((token, i) => this.staging.upsert(token, codes.subarray(i * this.dimensions, (i + 1) * this.dimensions), users[i]));
      throw err;
    }
    tokens.forEach((token, i) => {
      const key = this.nextKey + i;
      this.keyOf.set(token, key);
      this.tokenAt[key] = token;
      this.setUser(token, users[i]);
    });
    this.nextKey += tokens.length;
    return tokens.length;
  }

  /**
   * Writes the graph to `path` and returns what the file needs beside it:
   * the graph's entries and the staged faces (saved as tokens; their
   * features are read from the store again on load). Synchronous, so the
   * three agree with each other and with the index's applied version.
   */
  saveGraph(path: string): { entries: GraphEntry[]; staged: FaceToken[]; nextKey: number } {
    this.graph.save(path);
    const entries: GraphEntry[] = [];
    for (const [token, key] of this.keyOf) {
      const user = this.users.get(token);
      if (user) entries.push([key, token, user.userId ?? null, user.userInfo ?? null]);
      else entries.push([key, token]);
    }
    const staged = [...this.staging.entries()].map((e) => e.token);
    return { entries, staged, nextKey: this.nextKey };
  }

  /** The graph's live node count as usearch reports it (a loaded file is checked against its entries). */
  get graphSize(): number {
    return this.graph.size;
  }

  /** Estimate: per graph face the code, level-0 links (2M x 4 B), key and slot overhead, and the JS bookkeeping; plus staging. */
  get bytes(): number {
    const perNode = this.dimensions + 2 * this.graph.params.connectivity * 4 + 48 + BOOKKEEPING_BYTES_PER_FACE;
    return this.keyOf.size * perNode + this.staging.bytes;
  }

  private setUser(token: FaceToken, user: BindingUser | undefined): void {
    const old = this.users.get(token);
    if (old?.userId !== undefined) {
      const set = this.tokensOfUserId.get(old.userId);
      set?.delete(token);
      if (set?.size === 0) this.tokensOfUserId.delete(old.userId);
    }
    const kept = userOfEntry(user?.userId, user?.userInfo);
    if (kept) this.users.set(token, kept);
    else this.users.delete(token);
    if (kept?.userId !== undefined) {
      let set = this.tokensOfUserId.get(kept.userId);
      if (!set) this.tokensOfUserId.set(kept.userId, (set = new Set()));
      set.add(token);
    }
  }
}

/** Only the two fields, and only when one is set. */
function userOfEntry(userId: string | null | undefined, userInfo: string | null | undefined): BindingUser | undefined {
  if ((userId === undefined || userId === null) && (userInfo === undefined || userInfo === null)) return undefined;
  return { ...(userId !== undefined && userId !== null ? { userId } : {}), ...(userInfo !== undefined && userInfo !== null ? { userInfo } : {}) };
}

/** Token string, Map entry, array slot, user slot (as exact-gallery.ts estimates it). */
const BOOKKEEPING_BYTES_PER_FACE = 150;
