// The terminal's local copy of its face groups.
//
// The state is an immutable value: applySyncStream builds a new one and
// swaps it in with one assignment, so a failed sync leaves the gallery
// exactly as it was, and a reader iterating over a group never sees it
// half-updated. Groups a sync does not change are shared; the faces of a
// group that changes are a copy-on-write map (face-map.ts), so even those share
// everything but what the sync changed.
import { DEFAULT_FEATURE_ENCODING, type FeatureEncoding } from './constants.js';
import { EMPTY_DIGEST } from './digest.js';
import { syncError, SyncErrorCode } from './errors.js';
import { FaceMap } from './face-map.js';

export type { LocalFace } from './face-map.js';

export interface LocalGroup {
  /** The server's id of the group; null until the first sync (or after a mismatch, to force a full copy). */
  readonly groupId: number | null;
  /** The cloud version the local copy corresponds to; 0 for a new group (spec: setLocalGroup). */
  readonly version: number;
  readonly faces: FaceMap;
  /** digest.ts digest of the keys of `faces`, maintained as faces are added and removed. */
  readonly digest: bigint;
}

export interface GalleryState {
  /** Model of the local features ('' before the first sync). */
  readonly searchModel: string;
  /** Encoding the local features were received in. */
  readonly featureEncoding: FeatureEncoding;
  /** Group name -> group, in the order groups were added. */
  readonly groups: ReadonlyMap<string, LocalGroup>;
}

export interface GalleryInit {
  searchModel?: string;
  featureEncoding?: FeatureEncoding;
  /** Names of the groups to hold, each starting empty at version 0. */
  groups?: Iterable<string>;
}

export const emptyGroup = (): LocalGroup => ({ groupId: null, version: 0, faces: FaceMap.EMPTY, digest: EMPTY_DIGEST });

export class TerminalGallery {
  #state: GalleryState;

  constructor(init: GalleryInit = {}) {
    this.#state = {
      searchModel: init.searchModel ?? '',
      featureEncoding: init.featureEncoding ?? DEFAULT_FEATURE_ENCODING,
      groups: new Map([...(init.groups ?? [])].map((name) => [name, emptyGroup()])),
    };
  }

  /** The current state; never mutated, replaced as a whole on every change. */
  get state(): GalleryState {
    return this.#state;
  }

  get searchModel(): string {
    return this.#state.searchModel;
  }

  get featureEncoding(): FeatureEncoding {
    return this.#state.featureEncoding;
  }

  get groups(): ReadonlyMap<string, LocalGroup> {
    return this.#state.groups;
  }

  group(name: string): LocalGroup | undefined {
    return this.#state.groups.get(name);
  }

  /** Starts holding a group (empty, version 0, no id): the next sync fetches it whole. No-op if held. */
  addGroup(name: string): void {
    if (this.#state.groups.has(name)) return;
    this.#state = { ...this.#state, groups: new Map([...this.#state.groups, [name, emptyGroup()]]) };
  }

  /** Stops holding a group and drops its faces. */
  removeGroup(name: string): boolean {
    if (!this.#state.groups.has(name)) return false;
    const groups = new Map(this.#state.groups);
    groups.delete(name);
    this.#state = { ...this.#state, groups };
    return true;
  }

  /**
   * Swaps in `next` if the gallery still holds `base`. A sync stages its
   * result on top of the state it started from; if anything changed the
   * gallery meanwhile, committing would silently undo that change.
   */
  commit(base: GalleryState, next: GalleryState): void {
    if (this.#state !== base) {
      throw syncError(SyncErrorCode.Conflict, 'the gallery changed while the sync was being applied');
    }
    this.#state = next;
  }
}
