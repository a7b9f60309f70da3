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
//
// Exact or approximate per group: a group with fewer than `approxMinFaces`
// faces is an ExactGallery (brute force over int8 codes); from that size on
// an ApproxGallery (inverted lists over k-means centroids plus an exact
// staging area for faces not yet in a list, see approx-gallery.ts). A group
// that grows past the size is switched at once (its faces become the
// staging area) and a background task trains the centroids and moves staged
// faces into their lists a slice at a time, yielding to the event loop
// between slices. Approximate groups are saved under `indexDir`
// (index-files.ts) with the group version they reflect, at most once per
// `saveIntervalMs` once their staging is empty, and on close; a start loads
// the file and applies only the store's changes since that version
// (store.deltaSince). A file the store cannot bring up to date (its version
// is no longer in the kept log, above the group's, or from history a
// restore skipped: another lineage), of another feature model, or damaged,
// is discarded and the group rebuilt from the store.
import type { Logger } from 'pino';
import type { CommittedChange, FaceStore, GroupRecord } from '../../../storage/store.js';
import type { FaceToken, GroupId, GroupName, LibraryId } from '../ids.js';
import { ApproxGallery, DEFAULT_IVF, type IvfParams } from './approx-gallery.js';
import { ExactGallery } from './exact-gallery.js';
import type { Gallery } from './gallery.js';
import { IndexFiles } from './index-files.js';
import { quantize, quantizeInto, SCALE } from './quantize.js';

export interface FaceIndexOptions {
  /** Feature length of the engine (512). */
  dimensions: number;
  /** Native threads per search (usearch). Default 1: the event loop waits for it either way. */
  searchThreads?: number;
  logger?: Logger;
  /** Groups with at least this many faces use the approximate index. Default: never (exact only). */
  approxMinFaces?: number;
  /** Lists of new approximate groups and lists scanned per search (a loaded group keeps its own lists). */
  ivf?: Partial<IvfParams>;
  /** Directory for the approximate indexes' files (DATA_DIR/index). Without it nothing is persisted. */
  indexDir?: string;
  /** The engine's searchModel; files made from another model's features are discarded. Required with indexDir. */
  searchModel?: string;
  /** Least time between two saves of one group, ms. Default 10 minutes. */
  saveIntervalMs?: number;
  /**
   * Native threads for training centroids and moving staged faces into
   * lists. Default 1: the work runs in 20 ms slices, where starting a second
   * thread per slice costs about what it gives, and it leaves a core to the
   * engine.
   */
  indexThreads?: number;
}

/** One live group as the index holds it. */
export interface IndexedGroup {
  groupId: GroupId;
  library: LibraryId;
  name: GroupName;
  /** Replaced (exact -> approximate) when the group grows past the size; read it at use. */
  gallery: Gallery;
}

export interface FaceIndexStats {
  groups: number;
  /** Bindings held, over all groups (a face bound to two groups counts twice). */
  bindings: number;
  bytes: number;
  /** Groups searched with the approximate index. */
  approxGroups: number;
  /** Faces of approximate groups still waiting for their lists (searched exactly meanwhile). */
  staged: number;
  /** Approximate groups loaded from their file at open (not rebuilt). */
  loadedFromFile: number;
  /** Index files discarded at open (damaged, another model, not reachable from the store's log). */
  discardedFiles: number;
  /** Completed saves since open. */
  saves: number;
}

/** Faces read from the store per batch while building. */
const BUILD_PAGE = 2000;
/** How long one slice of background indexing (training, moving faces into lists) may hold the event loop. */
const SLICE_TARGET_MS = 20;
/** Rows of the first slice of a kind of step, before its cost is known. */
export const FIRST_SLICE_ROWS = 64;

/**
 * The rows of the next slice, from what the last one did (`done` rows in
 * `elapsedMs`): about SLICE_TARGET_MS of work, growing at most twofold a
 * slice, between 8 and 4096 rows.
 */
export function nextSliceRows(rows: number, done: number, elapsedMs: number): number {
  const fitted = Math.round((done * SLICE_TARGET_MS) / Math.max(elapsedMs, 0.5));
  return Math.max(8, Math.min(4096, 2 * rows, fitted));
}

const nameKey = (library: LibraryId, name: GroupName) => `${library}\u0000${name}`;

type Settings = Required<Pick<FaceIndexOptions, 'dimensions' | 'searchThreads' | 'approxMinFaces' | 'saveIntervalMs' | 'indexThreads'>> & {
  ivf: IvfParams;
  logger?: Logger;
  searchModel?: string;
};

export class FaceIndex {
  private readonly groups = new Map<GroupId, IndexedGroup>();
  private readonly byName = new Map<string, GroupId>();
  /** Highest version applied per group id (deleted groups too), for `applied`. */
  private readonly appliedVersion = new Map<GroupId, number>();
  private readonly waiters = new Set<{ groupId: GroupId; version: number; resolve: () => void }>();
  private readonly pending: CommittedChange[] = [];
  private worker: Promise<void> | undefined;
  private indexer: Promise<void> | undefined;
  private readonly saving = new Map<GroupId, Promise<void>>();
  /** Per approximate group: `changes` of its gallery at the last save, and when. */
  private readonly saved = new Map<GroupId, { changes: number; gallery: Gallery; at: number }>();
  private readonly files: IndexFiles | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private counters = { loadedFromFile: 0, discardedFiles: 0, saves: 0 };
  private sliceRows = FIRST_SLICE_ROWS;
  /** The kind of step the slice size was fitted to (ApproxGallery phase): a new kind starts small again. */
  private slicePhase = '';
  private ready = false;
  private upgrading = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly store: FaceStore,
    private readonly options: Settings,
    indexDir: string | undefined,
  ) {
    this.files = indexDir === undefined ? undefined : new IndexFiles(indexDir);
    // Subscribed before the build reads anything, so no change is missed;
    // the ones the build already saw are skipped by version.
    this.unsubscribe = store.onCommit((change) => {
      if (this.closed) return;
      this.pending.push(change);
      if (this.ready) this.kick();
    });
  }

  /** Builds the index of every live group from the store (approximate groups from their files where usable). */
  static async open(store: FaceStore, options: FaceIndexOptions): Promise<FaceIndex> {
    if (options.indexDir !== undefined && options.searchModel === undefined) throw new TypeError('FaceIndex: indexDir needs searchModel');
    const settings: Settings = {
      dimensions: options.dimensions,
      searchThreads: options.searchThreads ?? 1,
      approxMinFaces: options.approxMinFaces ?? Number.POSITIVE_INFINITY,
      saveIntervalMs: options.saveIntervalMs ?? 600_000,
      indexThreads: options.indexThreads ?? 1,
      ivf: { ...DEFAULT_IVF, ...options.ivf },
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.searchModel !== undefined ? { searchModel: options.searchModel } : {}),
    };
    const index = new FaceIndex(store, settings, options.indexDir);
    try {
      await index.files?.open();
      // During a model upgrade the index holds the faces re-extracted so far,
      // which changes without any group version: files are neither trusted
      // nor written until it has switched.
      index.upgrading = index.files !== undefined && (await store.featureUpgrade()) !== undefined;
      if (index.upgrading) options.logger?.info('search index: a model upgrade is running; index files are not used until it switches');
      const live = await store.listAllGroups();
      for (const group of live) await index.loadGroup(group.groupId, true);
      // Files of groups that are gone.
      const ids = new Set<number>(live.map((g) => g.groupId));
      for (const id of (await index.files?.groups()) ?? []) if (!ids.has(id)) await index.files!.remove(id);
    } catch (err) {
      await index.close();
      throw err;
    }
    index.ready = true;
    index.kick();
    index.kickIndexer();
    if (index.files) {
      index.saveTimer = setInterval(() => index.saveDue(), Math.max(1000, settings.saveIntervalMs / 4));
      index.saveTimer.unref();
    }
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

  /**
   * Resolves once no face waits for its list and no save is running (a save
   * that is due is started first): for tools and tests. Searches are
   * correct before that; this is about speed and files.
   */
  async settled(): Promise<void> {
    for (;;) {
      await this.worker;
      await this.indexer;
      this.kickIndexer();
      await this.indexer;
      this.saveDue(true);
      await Promise.all(this.saving.values());
      if (this.closed || (!this.worker && !this.indexer && this.saving.size === 0 && this.stats().staged === 0)) return;
    }
  }

  stats(): FaceIndexStats {
    let bindings = 0;
    let bytes = 0;
    let approxGroups = 0;
    let staged = 0;
    for (const group of this.groups.values()) {
      bindings += group.gallery.size;
      bytes += group.gallery.bytes;
      if (group.gallery instanceof ApproxGallery) {
        approxGroups++;
        staged += group.gallery.staged;
      }
    }
    return { groups: this.groups.size, bindings, bytes, approxGroups, staged, ...this.counters };
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
    this.switchGrownGroups(new Set(pairs.map((p) => p.groupId)));
  }

  /** Stops following the store, releases pending waiters, then saves the approximate groups that changed. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    if (this.saveTimer) clearInterval(this.saveTimer);
    this.pending.length = 0;
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
    await this.worker;
    await this.indexer;
    await Promise.all(this.saving.values());
    if (!this.ready) return;
    for (const group of this.groups.values()) {
      if (this.isDirty(group)) await this.save(group);
    }
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
            await this.loadGroup(groupId, false);
          } catch (reloadErr) {
            this.options.logger?.error({ err: reloadErr, groupId }, 'search index: reloading a group failed');
          }
        }
        for (const change of batch) this.markApplied(change.group.groupId, change.change.version);
      }
      this.switchGrownGroups(new Set(batch.map((c) => c.group.groupId)));
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
            this.dropGroup(group.groupId, true);
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

  /** Exact groups of the batch that reached the size become approximate (their faces staged for the lists). */
  private switchGrownGroups(groupIds: Iterable<GroupId>): void {
    for (const groupId of groupIds) {
      const group = this.groups.get(groupId);
      if (group?.gallery instanceof ExactGallery && group.gallery.size >= this.options.approxMinFaces) {
        group.gallery = ApproxGallery.fromExact(group.gallery, this.options.ivf, this.options.searchThreads);
        this.options.logger?.info({ groupId, faces: group.gallery.size }, 'search index: group switched to the approximate index');
      }
    }
    this.kickIndexer();
  }

  /** Whether the change is newer than what the index holds for its group. */
  private isNew(committed: CommittedChange): boolean {
    return committed.change.version > (this.appliedVersion.get(committed.group.groupId) ?? 0);
  }

  private putGroup(group: GroupRecord, gallery?: Gallery): IndexedGroup {
    const existing = this.groups.get(group.groupId);
    if (existing && !gallery) return existing;
    const indexed: IndexedGroup = {
      groupId: group.groupId,
      library: group.library,
      name: group.name,
      gallery: gallery ?? new ExactGallery(this.options.dimensions, this.options.searchThreads),
    };
    this.groups.set(group.groupId, indexed);
    this.byName.set(nameKey(group.library, group.name), group.groupId);
    return indexed;
  }

  private dropGroup(groupId: GroupId, deleteFiles: boolean): void {
    const indexed = this.groups.get(groupId);
    if (indexed) {
      this.groups.delete(groupId);
      const key = nameKey(indexed.library, indexed.name);
      if (this.byName.get(key) === groupId) this.byName.delete(key);
    }
    this.saved.delete(groupId);
    if (deleteFiles && this.files) {
      const files = this.files;
      const removing = (this.saving.get(groupId) ?? Promise.resolve())
        .then(() => files.remove(groupId))
        .catch((err: unknown) => this.options.logger?.warn({ err, groupId }, 'search index: removing the files of a deleted group failed'));
      this.track(groupId, removing);
    }
  }

  /**
   * (Re)loads one group: from its file when `fromFile` and the file is
   * usable, otherwise from a consistent snapshot of its bindings. The new
   * gallery replaces the old one only when complete.
   */
  private async loadGroup(groupId: GroupId, fromFile: boolean): Promise<void> {
    if (fromFile && (await this.loadFromFile(groupId))) return;
    const snapshot = await this.store.snapshotGroup(groupId);
    if (!snapshot || snapshot.group.deletedAt !== null) {
      this.dropGroup(groupId, true);
      if (snapshot) this.markApplied(groupId, snapshot.group.version);
      return;
    }
    const gallery = new ExactGallery(this.options.dimensions, this.options.searchThreads);
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
    this.dropGroup(groupId, false);
    if (gallery.size >= this.options.approxMinFaces) {
      this.putGroup(snapshot.group, ApproxGallery.fromExact(gallery, this.options.ivf, this.options.searchThreads));
      this.options.logger?.info({ groupId, faces: gallery.size }, 'search index: building the approximate index of a group in the background');
    } else {
      this.putGroup(snapshot.group, gallery);
      if (this.files) await this.files.remove(groupId);
    }
    this.markApplied(groupId, snapshot.group.version);
  }

  /** True when the group's file was loaded and brought up to date. */
  private async loadFromFile(groupId: GroupId): Promise<boolean> {
    if (!this.files || this.upgrading) return false;
    const group = await this.store.getGroupById(groupId);
    if (!group || group.deletedAt !== null || group.faceCount < this.options.approxMinFaces) return false;
    const started = performance.now();
    const loaded = await this.files.load(
      groupId,
      { model: this.options.searchModel!, dimensions: this.options.dimensions, scale: SCALE, params: this.options.ivf },
      this.options.searchThreads,
    );
    const discard = async (reason: string) => {
      this.counters.discardedFiles++;
      this.options.logger?.warn({ groupId, reason }, 'search index: discarding the index file; rebuilding the group from the store');
      await this.files!.remove(groupId);
      return false;
    };
    if (!loaded.ok) {
      if (loaded.reason.includes('ENOENT')) return false;
      return discard(loaded.reason);
    }
    const { meta, gallery } = loaded;
    const delta = await this.store.deltaSince(groupId, meta.version);
    if (!delta) return discard(`the store cannot bring version ${meta.version} up to date (not in the kept change log, or another lineage)`);
    const current = await this.store.getGroupById(groupId);
    if (!current || current.deletedAt !== null) return false;

    for (const token of delta.removed) gallery.remove(token);
    // Faces staged at save time and faces bound since: users (and features
    // for faces not in a list) as the store has them now; later commits
    // are replayed after this by version, as for any build.
    const toRead = [...new Set([...meta.staged, ...delta.upserted])];
    for (let start = 0; start < toRead.length; start += BUILD_PAGE) {
      const page = toRead.slice(start, start + BUILD_PAGE);
      const bindings = await this.store.getBindings(groupId, page);
      const missing = page.filter((token, i) => bindings[i] && !gallery.has(token));
      const features = missing.length > 0 ? await this.store.getFeatures(missing) : [];
      const featureOf = new Map(missing.map((token, i) => [token, features[i]]));
      page.forEach((token, i) => {
        const binding = bindings[i];
        if (!binding) {
          gallery.remove(token);
          return;
        }
        if (gallery.has(token)) {
          gallery.upsert(token, EMPTY_CODE, binding);
          return;
        }
        const feature = featureOf.get(token);
        if (feature && feature.length === this.options.dimensions) gallery.upsert(token, quantize(feature), binding);
      });
    }
    this.dropGroup(groupId, false);
    this.putGroup(current, gallery);
    // Unchanged since the file (no delta): not dirty.
    this.saved.set(groupId, { changes: delta.upserted.length + delta.removed.length + meta.staged.length > 0 ? -1 : gallery.changes, gallery, at: Date.now() });
    this.markApplied(groupId, delta.toVersion);
    this.counters.loadedFromFile++;
    this.options.logger?.info(
      {
        groupId,
        faces: gallery.size,
        fileVersion: meta.version,
        version: delta.toVersion,
        replayed: delta.upserted.length + delta.removed.length,
        ms: Math.round(performance.now() - started),
      },
      'search index: loaded the approximate index from its file',
    );
    return true;
  }

  /** Starts the background task that moves staged faces into their lists, if any wait. */
  private kickIndexer(): void {
    if (this.indexer || this.closed || !this.ready) return;
    if (![...this.groups.values()].some((g) => g.gallery instanceof ApproxGallery && g.gallery.staged > 0)) return;
    this.indexer = this.index().finally(() => {
      this.indexer = undefined;
    });
  }

  private async index(): Promise<void> {
    while (!this.closed) {
      const group = [...this.groups.values()].find((g) => g.gallery instanceof ApproxGallery && g.gallery.staged > 0);
      if (!group) return;
      const gallery = group.gallery as ApproxGallery;
      const phase = `${group.groupId} ${gallery.phase}`;
      if (phase !== this.slicePhase) [this.slicePhase, this.sliceRows] = [phase, FIRST_SLICE_ROWS];
      const started = performance.now();
      let moved: number;
      try {
        moved = gallery.indexStaged(this.sliceRows, this.options.indexThreads);
      } catch (err) {
        // The faces stay staged and searchable exactly; stop rather than spin.
        this.options.logger?.error({ err, groupId: group.groupId }, 'search index: training or filling the lists failed');
        return;
      }
      this.sliceRows = nextSliceRows(this.sliceRows, moved, performance.now() - started);
      if (gallery.staged === 0) {
        this.options.logger?.info({ groupId: group.groupId, faces: gallery.size, lists: gallery.listCount }, 'search index: approximate index complete');
        this.saveDue();
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private isDirty(group: IndexedGroup): boolean {
    if (!this.files || !(group.gallery instanceof ApproxGallery)) return false;
    const saved = this.saved.get(group.groupId);
    return !saved || saved.gallery !== group.gallery || saved.changes !== group.gallery.changes;
  }

  /** Saves approximate groups that changed, whose lists are complete, and whose last save is old enough (`force`: any age). */
  private saveDue(force = false): void {
    if (this.closed || !this.files) return;
    const now = Date.now();
    for (const group of this.groups.values()) {
      if (!(group.gallery instanceof ApproxGallery) || group.gallery.staged > 0 || this.saving.has(group.groupId) || !this.isDirty(group)) continue;
      const saved = this.saved.get(group.groupId);
      if (!force && saved && saved.gallery === group.gallery && now - saved.at < this.options.saveIntervalMs) continue;
      this.track(group.groupId, this.save(group));
    }
  }

  private track(groupId: GroupId, task: Promise<void>): void {
    const previous = this.saving.get(groupId);
    const chained = (previous ? previous.then(() => task) : task).finally(() => {
      if (this.saving.get(groupId) === chained) this.saving.delete(groupId);
    });
    this.saving.set(groupId, chained);
  }

  private async save(group: IndexedGroup): Promise<void> {
    const gallery = group.gallery;
    if (!this.files || !(gallery instanceof ApproxGallery)) return;
    try {
      if (this.upgrading) {
        if ((await this.store.featureUpgrade()) !== undefined) return;
        this.upgrading = false;
      }
      if (group.gallery !== gallery || !this.groups.has(group.groupId)) return;
      const changes = gallery.changes;
      const version = this.appliedVersion.get(group.groupId) ?? 0;
      // The lists, their table and `version` are taken in the same synchronous step.
      const result = await this.files.save(group.groupId, gallery, { version, model: this.options.searchModel!, scale: SCALE });
      // Deleted meanwhile: its files go too.
      if (!this.groups.has(group.groupId)) await this.files.remove(group.groupId);
      else this.saved.set(group.groupId, { changes, gallery, at: Date.now() });
      this.counters.saves++;
      this.options.logger?.info(
        { groupId: group.groupId, version, faces: gallery.size, mb: Math.round(result.bytes / 2 ** 20), blockedMs: Math.round(result.blockedMs), ms: Math.round(result.totalMs) },
        'search index: saved the approximate index',
      );
    } catch (err) {
      this.options.logger?.error({ err, groupId: group.groupId }, 'search index: saving failed (the next start rebuilds the group)');
    }
  }
}

/** For a face already in a list only its user is updated; the code is not read. */
const EMPTY_CODE = new Int8Array(0);
