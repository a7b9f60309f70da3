// A group's faces on the terminal as a persistent (immutable) map: a new
// version shares everything but the paths it changes, so applying a delta
// costs O(changes · log n) time and memory, whatever the gallery's size,
// while every earlier version stays valid (a reader iterating over one
// never sees it change, and a failed sync simply drops its version).
// Backed by Immutable.js's hash array mapped trie; read through the
// standard ReadonlyMap interface. Iteration order is the trie's (stable,
// not insertion order).
import { Map as PersistentMap } from 'immutable';

export interface LocalFace {
  userId?: string;
  userInfo?: string;
  feature: Float32Array;
}

export class FaceMap implements ReadonlyMap<string, LocalFace> {
  static readonly EMPTY = new FaceMap(PersistentMap<string, LocalFace>());

  readonly #map: PersistentMap<string, LocalFace>;

  private constructor(map: PersistentMap<string, LocalFace>) {
    this.#map = map;
  }

  static from(entries: Iterable<readonly [string, LocalFace]>): FaceMap {
    return FaceMap.EMPTY.withChanges(entries, []);
  }

  get size(): number {
    return this.#map.size;
  }

  get(token: string): LocalFace | undefined {
    return this.#map.get(token);
  }

  has(token: string): boolean {
    return this.#map.has(token);
  }

  /**
   * A new map with `removals` deleted and then `upserts` set; this one is
   * unchanged. Returns this map itself when there is nothing to change.
   */
  withChanges(upserts: Iterable<readonly [string, LocalFace]>, removals: Iterable<string>): FaceMap {
    let changed = false;
    const next = this.#map.withMutations((m) => {
      for (const token of removals) {
        m.delete(token);
        changed = true;
      }
      for (const [token, face] of upserts) {
        m.set(token, face);
        changed = true;
      }
    });
    return changed ? new FaceMap(next) : this;
  }

  *keys(): MapIterator<string> {
    yield* this.#map.keys();
  }

  *values(): MapIterator<LocalFace> {
    yield* this.#map.values();
  }

  *entries(): MapIterator<[string, LocalFace]> {
    yield* this.#map.entries();
  }

  [Symbol.iterator](): MapIterator<[string, LocalFace]> {
    return this.entries();
  }

  forEach(callback: (face: LocalFace, token: string, map: ReadonlyMap<string, LocalFace>) => void, thisArg?: unknown): void {
    for (const [token, face] of this.#map) callback.call(thisArg, face, token, this);
  }
}
