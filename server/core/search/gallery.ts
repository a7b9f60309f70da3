// What the search service and the index need of one group's faces, exact
// (exact-gallery.ts) or approximate (approx-gallery.ts).
import type { BindingUser } from '../../../storage/store.js';
import type { FaceToken } from '../ids.js';
import type { Candidate } from './exact-gallery.js';

export interface Gallery {
  readonly dimensions: number;
  readonly size: number;
  /** Bytes held (estimate). */
  readonly bytes: number;
  has(token: FaceToken): boolean;
  /** The user a bound face belongs to, when it was bound with one. */
  userOf(token: FaceToken): BindingUser | undefined;
  /** Faces bound with this user id. */
  tokensOfUser(userId: string): FaceToken[];
  /** Adds the face, or updates its user when it is already here. */
  upsert(token: FaceToken, code: Int8Array, user?: BindingUser): void;
  /** False when the face was not here. */
  remove(token: FaceToken): boolean;
  /** Up to `k` faces of largest int8 dot product with `query`, best first. */
  candidates(query: Int8Array, k: number): Candidate[];
}
