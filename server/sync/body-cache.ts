// Encoded group bodies (device-protocol/group-body.ts), shared by every sync
// stream that needs the same one. After a push, hundreds of terminals ask
// for the same delta within a second; the first request encodes it, the
// others wait for that encoding (lru-cache's fetch() joins concurrent misses
// of one key) and then splice the same bytes.
//
// A key names everything the bytes depend on, so an entry is never stale,
// only unused: eviction is by total size, least recently used first.
import { LRUCache } from 'lru-cache';
import type { EncodedGroupBody, FeatureEncoding } from '../../device-protocol/index.js';
import type { GroupId } from '../core/ids.js';

export interface BodyKey {
  groupId: GroupId;
  /** 'delta' from fromVersion, or 'full' (FULL and RESET carry the same records). */
  kind: 'delta' | 'full';
  fromVersion: number;
  toVersion: number;
  searchModel: string;
  featureEncoding: FeatureEncoding;
}

export interface BodyCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

const keyString = (key: BodyKey): string =>
  `${key.groupId}/${key.kind}/${key.fromVersion}/${key.toVersion}/${key.featureEncoding}/${key.searchModel}`;

export class GroupBodyCache {
  readonly #cache: LRUCache<string, EncodedGroupBody, () => Promise<EncodedGroupBody>>;
  #requests = 0;
  #encodings = 0;

  /** maxBytes 0 disables caching: every call encodes. */
  constructor(readonly maxBytes: number) {
    this.#cache = new LRUCache<string, EncodedGroupBody, () => Promise<EncodedGroupBody>>({
      maxSize: Math.max(1, maxBytes),
      // An entry larger than a quarter of the cache would evict too much to be worth keeping.
      maxEntrySize: Math.max(1, Math.floor(maxBytes / 4)),
      sizeCalculation: (body) => Math.max(1, body.bytes.length),
      fetchMethod: async (_key, _stale, { context }) => context(),
    });
  }

  /** The body for `key`, encoded by `encode` unless cached or being encoded already. */
  async get(key: BodyKey, encode: () => Promise<EncodedGroupBody>): Promise<EncodedGroupBody> {
    if (this.maxBytes === 0) return encode();
    this.#requests++;
    // Counting the encodings rather than probing the cache: a request that
    // joins an encoding in flight is a hit too, and lru-cache does not
    // report those through has().
    const counted = () => {
      this.#encodings++;
      return encode();
    };
    const body = await this.#cache.fetch(keyString(key), { context: counted });
    // undefined only if the entry is deleted while being fetched, which nothing here does.
    return body ?? counted();
  }

  stats(): BodyCacheStats {
    return {
      hits: this.#requests - this.#encodings,
      misses: this.#encodings,
      entries: this.#cache.size,
      bytes: this.#cache.calculatedSize,
    };
  }
}
