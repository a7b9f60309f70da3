// One large group's faces for approximate 1:N search: an inverted file
// (IVF). The int8 codes are split into `lists` lists by their nearest
// centroid (spherical k-means, kmeans.ts); a search ranks the centroids and
// scans only the `probes` nearest lists, each an ExactGallery searched by
// usearch's native kernel, then merges what they found. Chosen over an
// HNSW graph by measurement (README "The 1:N search index"): at 1,000,000
// face-shaped vectors HNSW needed 30 ms for recall@1 0.99 and 16 minutes to
// build; these lists take about 7 ms and a minute. Lists and centroids are
// searched on one native thread.
//
// A bind lands in a small exact "staging" gallery at once (found by the next
// search), and a background task of FaceIndex calls `indexStaged` a slice at
// a time: first to train the centroids on a sample of the staged faces, then
// to move staged faces into their lists. An unbind or face delete removes
// the face from wherever it is.
//
// A face's code changes only through a model upgrade (FaceIndex
// refreshFeatures passes its new code): it goes back to staging. Centroids
// trained on one model's features do not fit another's, so once a quarter
// of the faces have changed their code since the training sample was taken,
// the lists are emptied back into staging (in slices) and trained again.
// The same happens when a group trained with fewer lists than asked for
// (it was small) has grown fourfold. Replays after a restart pass an empty
// code for faces already in a list, to update their user only.
import { exactSearch, MetricKind } from 'usearch';
import type { BindingUser } from '../../../storage/store.js';
import type { FaceToken } from '../ids.js';
import { ExactGallery, type Candidate } from './exact-gallery.js';
import type { Gallery } from './gallery.js';
import { nearestCentroid, SphericalKMeans } from './kmeans.js';
import { ownBuffer } from './own-buffer.js';

export interface IvfParams {
  /** Lists (centroids) of a group trained from now on; fewer when the group is small (MIN_ROWS_PER_LIST). */
  lists: number;
  /** Lists scanned per search, nearest centroids first. */
  probes: number;
}

/**
 * Measured by `npm run bench:search` on face-shaped vectors (README, "The
 * 1:N search index"): 64 of 1024 lists give recall@1 >= 0.99 from 100,000
 * to 1,000,000 faces.
 */
export const DEFAULT_IVF: Readonly<IvfParams> = { lists: 1024, probes: 64 };

/** Training sample per list, and k-means passes over it. */
const SAMPLE_ROWS_PER_LIST = 64;
const TRAINING_ROUNDS = 8;
/** A small group gets fewer lists, so each has rows enough to place its centroid. */
const MIN_ROWS_PER_LIST = 32;
/** Retrain once this share of the faces changed their code since the training sample (a model upgrade). */
const RETRAIN_SHARE = 0.25;
/** Retrain a group trained with fewer lists than asked for once it is this many times the size it was trained at. */
const RETRAIN_GROWTH = 4;
/** Lists grow by a quarter when full (see ExactGallery's growth). */
const LIST_GROWTH = 1.25;

/** What the next slice of background work does. */
export type IndexPhase = 'training' | 'filling' | 'draining' | 'idle';

/** A saved group: the centroids and, per list, its tokens, users and codes. */
export interface IvfLists {
  centroids: Int8Array;
  lists: Array<{ tokens: FaceToken[]; users: Array<BindingUser | undefined>; codes: Int8Array }>;
}

export class ApproxGallery implements Gallery {
  private centroids: Int8Array | undefined;
  private lists: ExactGallery[] = [];
  private readonly listOf = new Map<FaceToken, number>();
  private trainer: SphericalKMeans | undefined;
  /** Faces whose code changed since the training sample was taken. */
  private recoded = 0;
  /** Faces in the group when the training sample was taken. */
  private trainedSize = 0;
  /** Set while the lists are emptied back into staging for a new training. */
  private draining = false;
  /** Bumped by every effective change; the saver compares it with what it saved. */
  changes = 0;

  private constructor(
    readonly dimensions: number,
    readonly params: Readonly<IvfParams>,
    private readonly searchThreads: number,
    /** Faces not yet in a list, searched exactly. */
    private readonly staging: ExactGallery,
  ) {}

  /** Takes over an exact gallery's faces as staged faces (nothing is copied); the lists fill in the background. */
  static fromExact(exact: ExactGallery, params: IvfParams, searchThreads: number): ApproxGallery {
    return new ApproxGallery(exact.dimensions, { ...params }, searchThreads, exact);
  }

  /**
   * A saved group's lists (none when it was saved before its training
   * ended: its faces are all staged), searched with `params.probes` of them.
   */
  static restore(dimensions: number, saved: IvfLists, params: IvfParams, searchThreads: number): ApproxGallery {
    const gallery = new ApproxGallery(dimensions, { ...params }, searchThreads, new ExactGallery(dimensions, searchThreads));
    if (saved.lists.length === 0) return gallery;
    gallery.centroids = ownBuffer(saved.centroids);
    gallery.lists = saved.lists.map((list, l) => {
      for (const token of list.tokens) {
        if (gallery.listOf.has(token)) throw new RangeError(`token ${token} in two lists`);
        gallery.listOf.set(token, l);
      }
      return ExactGallery.fromRows(dimensions, 1, LIST_GROWTH, list.tokens, list.users, list.codes);
    });
    gallery.trainedSize = gallery.listOf.size;
    return gallery;
  }

  get size(): number {
    return this.listOf.size + this.staging.size;
  }

  /** Faces waiting for a list (and, while untrained, for the centroids). */
  get staged(): number {
    return this.staging.size + (this.draining ? this.listOf.size : 0);
  }

  /** Faces in lists. */
  get indexed(): number {
    return this.listOf.size;
  }

  /** Lists trained (0 until the centroids are). */
  get listCount(): number {
    return this.centroids ? this.lists.length : 0;
  }

  /** What `indexStaged` would do next. */
  get phase(): IndexPhase {
    if (this.draining || this.retrainDue()) return 'draining';
    if (!this.centroids) return this.staging.size > 0 ? 'training' : 'idle';
    return this.staging.size > 0 ? 'filling' : 'idle';
  }

  has(token: FaceToken): boolean {
    return this.listOf.has(token) || this.staging.has(token);
  }

  userOf(token: FaceToken): BindingUser | undefined {
    const l = this.listOf.get(token);
    return l === undefined ? this.staging.userOf(token) : this.lists[l]!.userOf(token);
  }

  tokensOfUser(userId: string): FaceToken[] {
    // A Map lookup per list (about a thousand): cheaper than keeping a second user table in step.
    return [...this.lists.flatMap((list) => list.tokensOfUser(userId)), ...this.staging.tokensOfUser(userId)];
  }

  /**
   * A new face goes to staging. For a face already in a list, an empty
   * `code` updates only its user; a code replaces its vector (a model
   * upgrade's new feature): out of the list, into staging.
   */
  upsert(token: FaceToken, code: Int8Array, user?: BindingUser): void {
    this.changes++;
    const l = this.listOf.get(token);
    if (l !== undefined) {
      const list = this.lists[l]!;
      if (code.length === 0) {
        list.updateUser(token, user);
        return;
      }
      list.remove(token);
      this.listOf.delete(token);
      this.recoded++;
    } else if (this.staging.has(token)) {
      if (code.length === 0) {
        this.staging.updateUser(token, user);
        return;
      }
      // A staged face may already be in the training sample, or its list be chosen by old centroids.
      this.recoded++;
    }
    if (code.length > 0) this.staging.upsert(token, code, user);
  }

  remove(token: FaceToken): boolean {
    const l = this.listOf.get(token);
    const removed = l === undefined ? this.staging.remove(token) : this.lists[l]!.remove(token) && this.listOf.delete(token);
    if (removed) this.changes++;
    return removed;
  }

  candidates(query: Int8Array, k: number): Candidate[] {
    const out: Candidate[] = [];
    if (this.centroids && this.listOf.size > 0) {
      const q = ownBuffer(query);
      const probes = Math.min(this.params.probes, this.lists.length);
      const nearest = exactSearch(this.centroids, q, this.dimensions, probes, MetricKind.IP, 1);
      for (let i = 0; i < probes; i++) {
        const list = this.lists[Number(nearest.keys[i])];
        // usearch pads missing results with keys past the end.
        if (list && list.size > 0) out.push(...list.candidates(q, k));
      }
    }
    if (this.staging.size > 0) out.push(...this.staging.candidates(query, k));
    out.sort((a, b) => b.approxCosine - a.approxCosine);
    return out.length > k ? out.slice(0, k) : out;
  }

  /**
   * One bounded slice of background work, about `count` rows of it: a step
   * of training, or moving staged faces into their lists, or (before a new
   * training) emptying lists back into staging. Returns the rows handled.
   */
  indexStaged(count: number, threads: number): number {
    if (!this.draining && this.retrainDue()) {
      this.draining = true;
      // One copy of the staging matrix now, rather than one doubling per slice of the drain.
      this.staging.reserve(this.size);
    }
    if (this.draining) return this.drain(count);
    if (!this.centroids) return this.train(count, threads);
    const { tokens, users, codes } = this.staging.takeLast(count);
    if (tokens.length === 0) return 0;
    let nearest: Uint32Array;
    try {
      nearest = nearestCentroid(this.centroids, codes, this.dimensions, threads);
    } catch (err) {
      // Back into staging: the faces stay searchable exactly.
      tokens.forEach((token, i) => this.staging.upsert(token, codes.subarray(i * this.dimensions, (i + 1) * this.dimensions), users[i]));
      throw err;
    }
    tokens.forEach((token, i) => {
      const l = nearest[i]!;
      this.lists[l]!.upsert(token, codes.subarray(i * this.dimensions, (i + 1) * this.dimensions), users[i]);
      this.listOf.set(token, l);
    });
    return tokens.length;
  }

  /**
   * Everything a save writes, taken in one synchronous step (tokens and
   * users copied, codes shared copy-on-write), so the file can be written
   * asynchronously while the gallery changes.
   */
  snapshot(): { lists: IvfLists; staged: FaceToken[] } {
    const staged = [...this.staging.entries()].map((e) => e.token);
    if (!this.centroids || this.draining) return { lists: { centroids: new Int8Array(0), lists: [] }, staged: [...staged, ...this.listOf.keys()] };
    return { lists: { centroids: this.centroids.slice(), lists: this.lists.map((list) => list.shareRows()) }, staged };
  }

  /** Estimate: the lists' and staging's codes and bookkeeping, and the centroids. */
  get bytes(): number {
    return this.lists.reduce((sum, list) => sum + list.bytes, this.staging.bytes) + (this.centroids?.byteLength ?? 0);
  }

  /** A model upgrade re-coded a quarter of the faces, or a group trained small has grown fourfold. */
  private retrainDue(): boolean {
    if (!this.centroids) return false;
    if (this.recoded >= RETRAIN_SHARE * Math.max(1, this.size)) return true;
    return this.lists.length < this.params.lists && this.size >= RETRAIN_GROWTH * Math.max(MIN_ROWS_PER_LIST, this.trainedSize);
  }

  private train(count: number, threads: number): number {
    if (!this.trainer) {
      const lists = Math.max(1, Math.min(this.params.lists, Math.floor(this.staging.size / MIN_ROWS_PER_LIST)));
      const sample = this.staging.sampleRows(lists * SAMPLE_ROWS_PER_LIST);
      this.trainer = new SphericalKMeans(sample, this.dimensions, lists, TRAINING_ROUNDS);
      // Counted from the sample on: a code changed during training makes the centroids older too.
      this.recoded = 0;
      this.trainedSize = this.staging.size;
    }
    const assigned = this.trainer.step(count, threads);
    if (this.trainer.done) {
      this.centroids = this.trainer.centroids;
      this.lists = Array.from({ length: this.trainer.lists }, () => new ExactGallery(this.dimensions, 1, LIST_GROWTH));
      this.trainer = undefined;
    }
    return assigned;
  }

  /** Moves up to `count` listed faces back into staging; with none left, forgets the centroids. */
  private drain(count: number): number {
    let moved = 0;
    for (const list of this.lists) {
      if (moved >= count) break;
      if (list.size === 0) continue;
      const { tokens, users, codes } = list.takeLast(count - moved);
      tokens.forEach((token, i) => {
        this.listOf.delete(token);
        this.staging.upsert(token, codes.subarray(i * this.dimensions, (i + 1) * this.dimensions), users[i]);
      });
      moved += tokens.length;
    }
    if (this.listOf.size === 0) {
      this.draining = false;
      this.centroids = undefined;
      this.lists = [];
    }
    return Math.max(1, moved);
  }
}
