// A group's faces on the terminal as a copy-on-write map: the faces are
// spread over SHARDS native Maps by a hash of the token, and a new version
// copies only the shards its changes fall in, sharing all the others. So
// applying a delta costs O(changes × group / SHARDS) time and memory (a few
// hundred entries per change for 100,000 faces), while every earlier
// version stays valid: a reader iterating over one never sees it change,
// and a failed sync simply drops its version. Reads, building and iteration
// run at native Map speed (a persistent trie such as Immutable.js's was
// measured at 5-8x slower to build and far slower to iterate, which a
// terminal does for every 1:N match). Read through the standard ReadonlyMap
// interface; iteration order is by shard, then insertion.
export interface LocalFace {
  userId?: string;
  userInfo?: string;
  feature: Float32Array;
}

/** A power of two; 256 keeps a shard of a 100,000-face group near 400 entries. */
const SHARDS = 256;

type Shard = Map<string, LocalFace>;

/** FNV-1a over the UTF-16 code units: cheap, and tokens are random anyway. */
function shardOf(token: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
  return (h >>> 0) & (SHARDS - 1);
}

export class FaceMap implements ReadonlyMap<string, LocalFace> {
  static readonly EMPTY = new FaceMap(new Array<Shard | undefined>(SHARDS).fill(undefined), 0);

  /** Never mutated once this map is constructed; shared between versions. */
  readonly #shards: ReadonlyArray<Shard | undefined>;
  readonly #size: number;

  private constructor(shards: ReadonlyArray<Shard | undefined>, size: number) {
    this.#shards = shards;
    this.#size = size;
  }

  static from(entries: Iterable<readonly [string, LocalFace]>): FaceMap {
    return FaceMap.EMPTY.withChanges(entries, []);
  }

  get size(): number {
    return this.#size;
  }

  get(token: string): LocalFace | undefined {
    return this.#shards[shardOf(token)]?.get(token);
  }

  has(token: string): boolean {
    return this.#shards[shardOf(token)]?.has(token) ?? false;
  }

  /**
   * A new map with `removals` deleted and then `upserts` set; this one is
   * unchanged. Copies only the shards the changes fall in. Returns this map
   * itself when there is nothing to change.
   */
  withChanges(upserts: Iterable<readonly [string, LocalFace]>, removals: Iterable<string>): FaceMap {
    const base = this.#shards;
    /** The new version's shards, once something changed; `owned[i]` = 1 where it holds its own copy (safe to mutate). */
    const next: { shards: Array<Shard | undefined> | null } = { shards: null };
    const owned = new Uint8Array(SHARDS);
    const writable = (i: number): Shard => {
      const shards = (next.shards ??= base.slice());
      if (owned[i] === 0) {
        owned[i] = 1;
        const old = base[i];
        shards[i] = old ? new Map(old) : new Map();
      }
      return shards[i]!;
    };
    for (const token of removals) {
      const i = shardOf(token);
      if ((next.shards ?? base)[i]?.has(token)) writable(i).delete(token);
    }
    for (const [token, face] of upserts) writable(shardOf(token)).set(token, face);
    const shards = next.shards;
    if (!shards) return this;
    let size = this.#size;
    for (let i = 0; i < SHARDS; i++) if (owned[i] === 1) size += shards[i]!.size - (base[i]?.size ?? 0);
    return new FaceMap(shards, size);
  }

  entries(): MapIterator<[string, LocalFace]> {
    return new ShardIterator(this.#shards, (shard) => shard.entries());
  }

  keys(): MapIterator<string> {
    return new ShardIterator(this.#shards, (shard) => shard.keys());
  }

  values(): MapIterator<LocalFace> {
    return new ShardIterator(this.#shards, (shard) => shard.values());
  }

  [Symbol.iterator](): MapIterator<[string, LocalFace]> {
    return this.entries();
  }

  forEach(callback: (face: LocalFace, token: string, map: ReadonlyMap<string, LocalFace>) => void, thisArg?: unknown): void {
    for (const shard of this.#shards) shard?.forEach((face, token) => callback.call(thisArg, face, token, this));
  }
}

/** Walks the shards' own iterators one after the other (cheaper per element than a generator's yield*). */
class ShardIterator<T> implements MapIterator<T> {
  readonly #shards: ReadonlyArray<Shard | undefined>;
  readonly #open: (shard: Shard) => MapIterator<T>;
  #index = 0;
  #current: MapIterator<T> | null = null;

  constructor(shards: ReadonlyArray<Shard | undefined>, open: (shard: Shard) => MapIterator<T>) {
    this.#shards = shards;
    this.#open = open;
  }

  next(): IteratorResult<T, undefined> {
    for (;;) {
      if (this.#current) {
        const step = this.#current.next();
        if (!step.done) return step;
        this.#current = null;
      }
      while (this.#index < this.#shards.length && !this.#shards[this.#index]) this.#index++;
      if (this.#index >= this.#shards.length) return { done: true, value: undefined };
      this.#current = this.#open(this.#shards[this.#index++]!);
    }
  }

  [Symbol.iterator](): MapIterator<T> {
    return this;
  }
}
