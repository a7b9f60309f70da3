// What a sync stream does to one group, staged as a journal over the group's
// faces before the sync: the faces to set and the tokens to remove, nothing
// else. The group's face count and token digest after the journal are kept
// current as records arrive (the digest is a sum, §10), so checking them
// costs O(changes), not O(group). The journal touches the gallery only when
// build() is called, after the stream's CRC, counts, snapshots and these
// checks passed; until then the group is exactly as it was (§7, §18).
//
// A FULL (or RESET) copy is a journal over the empty group.
import type { FaceRecord } from './frames.js';
import { digestAdd, digestRemove } from './digest.js';
import { FaceMap, type LocalFace } from './face-map.js';

export class FaceJournal {
  readonly #base: FaceMap;
  readonly #upserts = new Map<string, LocalFace>();
  /** Tokens held by the base that the journal removes (disjoint from #upserts). */
  readonly #removals = new Set<string>();
  #size: number;
  #digest: bigint;
  /** Face records applied (inserted or replaced). */
  upserted = 0;
  /** Faces actually removed. */
  removed = 0;

  constructor(base: FaceMap, baseDigest: bigint) {
    this.#base = base;
    this.#size = base.size;
    this.#digest = baseDigest;
  }

  /** Faces the group holds once the journal is applied. */
  get size(): number {
    return this.#size;
  }

  /** Token digest of the group once the journal is applied. */
  get digest(): bigint {
    return this.#digest;
  }

  #holds(token: string): boolean {
    return this.#upserts.has(token) || (!this.#removals.has(token) && this.#base.has(token));
  }

  /** Inserts or replaces faces (user_id, user_info and feature all replaced). */
  upsert(faces: readonly FaceRecord[]): void {
    for (const { faceToken, feature, userId, userInfo } of faces) {
      if (!this.#holds(faceToken)) {
        this.#digest = digestAdd(this.#digest, faceToken);
        this.#size++;
      }
      this.#removals.delete(faceToken);
      this.#upserts.set(faceToken, { feature, ...(userId !== undefined ? { userId } : {}), ...(userInfo !== undefined ? { userInfo } : {}) });
      this.upserted++;
    }
  }

  /** Removes faces; a token not held is not an error (§5 RemovedBatch). */
  remove(tokens: readonly string[]): void {
    for (const token of tokens) {
      if (!this.#holds(token)) continue;
      this.#digest = digestRemove(this.#digest, token);
      this.#size--;
      this.removed++;
      this.#upserts.delete(token);
      if (this.#base.has(token)) this.#removals.add(token);
    }
  }

  /** The group's faces with the journal applied, as a new map (the base is unchanged). */
  build(): FaceMap {
    return this.#base.withChanges(this.#upserts, this.#removals);
  }
}
