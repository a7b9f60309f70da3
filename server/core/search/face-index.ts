// The in-memory 1:N index of every live group: built from the store at
// start, then kept equal to it by applying the store's committed changes
// (bind, unbind, face delete, group create/delete) in commit order.
//
// Read-your-writes: a write's caller awaits `applied(changes)` before it
// acknowledges (FaceLibrary does), so a search after an acknowledged bind
// finds the face and one after an acknowledged unbind never returns it.
// Changes arrive through `store.onCommit` (commit order); a bind needs the
// face's feature and the binding's user, read from the store, so changes
// are applied by one serial worker, in order, a batch at a time.
import type { Logger } from 'pino';
import type { CommittedChange, FaceStore, GroupRecord } from '../../../storage/store.js';
import type { FaceToken, GroupId, GroupName, LibraryId } from '../ids.js';
import { ExactGallery } from './exact-gallery.js';
import { quantize, quantizeInto } from './quantize.js';

export interface FaceIndexOptions {
  /** Feature length of the engine (512). */
  dimensions: number;
  /** Native threads per search (usearch). Default 1: the event loop waits for it either way. */
  searchThreads?: number;
  logger?: Logger;
}

/** One live group as the index holds it. */
export interface IndexedGroup {
  groupId: GroupId;
  library: LibraryId;
  name: GroupName;
  gallery: ExactGallery;
}

export interface FaceIndexStats {
  groups: number;
  /** Bindings held, over all groups (a face bound to two groups counts twice). */
  bindings: number;
  bytes: number;
}

/** Faces read from the store per batch while building. */
const BUILD_PAGE = 2000;

const nameKey = (library: LibraryId, name: GroupName) => `${library}\u0000${name}`;

export class FaceIndex {
  private readonly groups = new Map<GroupId, IndexedGroup>();
  private readonly byName = new Map<string, GroupId>();
  /** Highest version applied per group id (deleted groups too), for `applied`. */
  private readonly appliedVersion = new Map<GroupId, number>();
  private readonly waiters = new Set<{ groupId: GroupId; version: number; resolve: () => void }>();
  private readonly pending: CommittedChange[] = [];
  private worker: Promise<void> | undefined;
  private ready = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly store: FaceStore,
    private readonly options: Required<Pick<FaceIndexOptions, 'dimensions' | 'searchThreads'>> & { logger?: Logger },
  ) {
    // Subscribed before the build reads anything, so no change is missed;
    // the ones the build already saw are skipped by version.
    this.unsubscribe = store.onCommit((change) => {
      if (this.closed) return;
      this.pending.push(change);
      if (this.ready) this.kick();
    });
  }

  /** Builds the index of every live group from the store. */
  static async open(store: FaceStore, options: FaceIndexOptions): Promise<FaceIndex> {
    const index = new FaceIndex(store, { searchThreads: 1, ...options });
    try {
      for (const group of await store.listAllGroups()) await index.loadGroup(group.groupId);
    } catch (err) {
      index.close();
      throw err;
    }
    index.ready = true;
    index.kick();
    return index;
  }

  /** The live group of that name, as indexed now. */
  group(library: LibraryId, name: GroupName): IndexedGroup | undefined {
    const id = this.byName.get(nameKey(library, name));
    return id === undefined ? undefined : this.groups.get(id);
  }

  /** Resolves once every given change (as returned by a store write) is in the index. */
  applied(changes: CommittedChange | readonly CommittedChange[] | null | undefined): Promise<void> {
    const list = changes === null || changes === undefined ? [] : Array.isArray(changes) ? changes : [changes as CommittedChange];
    return Promise.all(list.map((c) => this.appliedOne(c.group.groupId, c.change.version))).then(() => undefined);
  }

  stats(): FaceIndexStats {
    let bindings = 0;
    let bytes = 0;
    for (const group of this.groups.values()) {
      bindings += group.gallery.size;
      bytes += group.gallery.bytes;
    }
    return { groups: this.groups.size, bindings, bytes };
  }

  /**
   * Model-upgrade hook: the store now answers other features for these
   * faces (a model upgrade stored their new ones; no group changed).
   * Re-reads them with their bindings and replaces their codes. Runs in the
   * serial change worker's place, so it never races a bind or unbind: what
   * it reads is at or after the index's state, and changes committed after
   * the read are applied after it.
   */
  async refreshFeatures(tokens: readonly FaceToken[]): Promise<void> {
    while (this.worker) await this.worker;
    if (this.closed || tokens.length === 0) return;
    this.worker = this.refresh(tokens)
      .catch((err) => this.options.logger?.error({ err }, 'search index: refreshing features failed'))
      .finally(() => {
        this.worker = undefined;
        this.kick();
      });
    await this.worker;
  }

  private async refresh(tokens: readonly FaceToken[]): Promise<void> {
    const features = await this.store.getFeatures(tokens);
    const groups = await Promise.all(tokens.map((token) => this.store.groupsOfFace(token)));
    const pairs = tokens.flatMap((token, i) => groups[i]!.map((group) => ({ token, i, groupId: group.groupId })));
    const bindings = await Promise.all(pairs.map((p) => this.store.getBindings(p.groupId, [p.token])));
    if (this.closed) return;
    pairs.forEach(({ token, i, groupId }, k) => {
      const indexed = this.groups.get(groupId);
      const binding = bindings[k]![0];
      // Not bound any more, or group not indexed yet: the pending changes settle it.
      if (!indexed || !binding) return;
      const feature = features[i];
      if (feature && feature.length === this.options.dimensions) indexed.gallery.upsert(token, quantize(feature), binding);
      else indexed.gallery.remove(token);
    });
  }

  /** Stops following the store; pending waiters are released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.pending.length = 0;
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
  }

  private appliedOne(groupId: GroupId, version: number): Promise<void> {
    if (this.closed || (this.appliedVersion.get(groupId) ?? 0) >= version) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add({ groupId, version, resolve }));
  }

  private markApplied(groupId: GroupId, version: number): void {
    if ((this.appliedVersion.get(groupId) ?? 0) < version) this.appliedVersion.set(groupId, version);
    for (const waiter of this.waiters) {
      if (waiter.groupId === groupId && waiter.version <= version) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  private kick(): void {
    if (this.worker || this.closed || this.pending.length === 0) return;
    this.worker = this.drain().finally(() => {
      this.worker = undefined;
      this.kick();
    });
  }

  /** Applies everything pending, in commit order, reading the bound faces of a batch at once. */
  private async drain(): Promise<void> {
    while (!this.closed && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.pending.length);
      try {
        await this.applyBatch(batch);
      } catch (err) {
        // A failed store read must not leave the index silently different
        // from the store: reload the groups of the batch from scratch.
        this.options.logger?.error({ err }, 'search index: applying changes failed; reloading the groups');
        for (const groupId of new Set(batch.map((c) => c.group.groupId))) {
          try {
            await this.loadGroup(groupId);
          } catch (reloadErr) {
            this.options.logger?.error({ err: reloadErr, groupId }, 'search index: reloading a group failed');
          }
        }
        for (const change of batch) this.markApplied(change.group.groupId, change.change.version);
      }
    }
  }

  private async applyBatch(batch: CommittedChange[]): Promise<void> {
    const binds = batch.filter((c) => c.change.op === 'bind' && c.change.faceToken && this.isNew(c));
    const tokens = binds.map((c) => c.change.faceToken as FaceToken);
    const features = tokens.length > 0 ? await this.store.getFeatures(tokens) : [];
    const users = await Promise.all(binds.map((c) => this.store.getBindings(c.group.groupId, [c.change.faceToken as FaceToken])));
    const bound = new Map<CommittedChange, number>(binds.map((c, i) => [c, i]));
    if (this.closed) return;

    for (const committed of batch) {
      const { group, change } = committed;
      if (this.isNew(committed)) {
        const token = change.faceToken as FaceToken | undefined;
        switch (change.op) {
          case 'create':
            this.putGroup(group);
            break;
          case 'delete':
            this.dropGroup(group.groupId);
            break;
          case 'bind': {
            const i = bound.get(committed)!;
            const feature = features[i];
            const binding = users[i]![0];
            // Read after the commit: a face deleted or unbound since then has
            // its own later change in this or a following batch; skipping it
            // here gives the same end state.
            if (feature && feature.length === this.options.dimensions && binding && token) {
              const indexed = this.groups.get(group.groupId) ?? this.putGroup(group);
              indexed.gallery.upsert(token, quantize(feature), binding);
            }
            break;
          }
          case 'unbind':
            if (token) this.groups.get(group.groupId)?.gallery.remove(token);
            break;
        }
      }
      this.markApplied(group.groupId, change.version);
    }
  }

  /** Whether the change is newer than what the index holds for its group. */
  private isNew(committed: CommittedChange): boolean {
    return committed.change.version > (this.appliedVersion.get(committed.group.groupId) ?? 0);
  }

  private putGroup(group: GroupRecord): IndexedGroup {
    const existing = this.groups.get(group.groupId);
    if (existing) return existing;
    const indexed: IndexedGroup = {
      groupId: group.groupId,
      library: group.library,
      name: group.name,
      gallery: new ExactGallery(this.options.dimensions, this.options.searchThreads),
    };
    this.groups.set(group.groupId, indexed);
    this.byName.set(nameKey(group.library, group.name), group.groupId);
    return indexed;
  }

  private dropGroup(groupId: GroupId): void {
    const indexed = this.groups.get(groupId);
    if (!indexed) return;
    this.groups.delete(groupId);
    const key = nameKey(indexed.library, indexed.name);
    if (this.byName.get(key) === groupId) this.byName.delete(key);
  }

  /** (Re)loads one group from a consistent snapshot of its bindings. */
  private async loadGroup(groupId: GroupId): Promise<void> {
    const snapshot = await this.store.snapshotGroup(groupId);
    this.dropGroup(groupId);
    if (!snapshot || snapshot.group.deletedAt !== null) {
      if (snapshot) this.markApplied(groupId, snapshot.group.version);
      return;
    }
    const gallery = this.putGroup(snapshot.group).gallery;
    const { bindings } = snapshot;
    for (let start = 0; start < bindings.length; start += BUILD_PAGE) {
      const page = bindings.slice(start, start + BUILD_PAGE);
      const features = await this.store.getFeatures(page.map((b) => b.faceToken));
      const code = new Int8Array(this.options.dimensions);
      page.forEach((binding, i) => {
        const feature = features[i];
        if (feature && feature.length === this.options.dimensions) gallery.upsert(binding.faceToken, quantizeInto(feature, code), binding);
      });
    }
    this.markApplied(groupId, snapshot.group.version);
  }
}
