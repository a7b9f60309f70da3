// Immutable snapshot files for FULL copies of large groups (PROTOCOL.md §11).
//
// A snapshot depends only on (group, version, model, encoding), so it is
// written once and served to every terminal that needs that copy (after a
// model upgrade: all of them), from a file, with an ETag and HTTP Range so a
// broken download resumes where it stopped. Building it reads the group's
// bindings in one short read and the features page by page, never in one
// long LMDB read transaction.
//
// Files are a cache: the directory is emptied at start (nothing refers to a
// snapshot across a restart but a download in progress, which then fails and
// the terminal syncs again). A snapshot stays downloadable for `retainMs`
// after its group moved on, so a terminal that got the reference just before
// a change can still finish; then it is deleted.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  digestFromHex,
  SyncKind,
  SyncStreamWriter,
  type FeatureEncoding,
  type SnapshotRef,
} from '../../device-protocol/index.js';
import type { FaceStore, GroupRecord, GroupSnapshot } from '../../storage/store.js';
import type { GroupId } from '../core/ids.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import { FaceChangedWhileReading, type WireFaceReader } from './wire-faces.js';

/** URL path under which snapshots are served; the id follows. */
export const SNAPSHOT_PATH = '/api/service/sync/v1/snapshots';

export interface SnapshotStoreOptions {
  /** Directory of the files; emptied at start. */
  dir: string;
  store: FaceStore;
  faces: WireFaceReader;
  /** The served features' model now: a snapshot of another model (before a model upgrade's switch) is superseded. */
  servedModel: () => string;
  featureDim: number;
  /** How long a snapshot stays downloadable after its group changed, ms (PROTOCOL.md: at least 10 minutes). */
  retainMs: number;
  logger: Logger;
}

/** One snapshot file; everything a group result and a download need. */
export interface SnapshotFile {
  /** URL-safe name: group, version, encoding and content hash. */
  readonly id: string;
  readonly path: string;
  /** Strong ETag (quoted), from the content hash. */
  readonly etag: string;
  readonly byteLength: number;
  readonly featureEncoding: FeatureEncoding;
  /** The model of its features (a model upgrade's switch makes new snapshots). */
  readonly searchModel: string;
  /** The group as of the snapshot's version. */
  readonly group: GroupRecord;
  /** When its group was first seen to have moved on; undefined while current. */
  supersededAt?: number;
}

/** Build attempts when faces are deleted while the snapshot is written. */
const BUILD_ATTEMPTS = 3;

const versionKey = (groupId: GroupId, version: number, encoding: FeatureEncoding, model: string) => `${groupId}/${version}/${encoding}/${model}`;

export class SnapshotStore {
  /** By id, for downloads. */
  readonly #files = new Map<string, SnapshotFile>();
  /** By (group, version, encoding), for sync requests. */
  readonly #current = new Map<string, SnapshotFile>();
  /** Builds in flight, by the (group, version, encoding) they were asked for. */
  readonly #building = new Map<string, Promise<SnapshotFile>>();
  #builds = 0;
  #closed = false;

  private constructor(private readonly options: SnapshotStoreOptions) {}

  static async open(options: SnapshotStoreOptions): Promise<SnapshotStore> {
    await rm(options.dir, { recursive: true, force: true });
    await mkdir(options.dir, { recursive: true });
    return new SnapshotStore(options);
  }

  /** Files written since start (for metrics and tests). */
  get builds(): number {
    return this.#builds;
  }

  /** Snapshot files kept. */
  get count(): number {
    return this.#files.size;
  }

  /** The snapshot of `group` at its version or a later one, built unless it exists or is being built. */
  async ensure(group: GroupRecord, encoding: FeatureEncoding, model: string): Promise<SnapshotFile> {
    if (this.#closed) throw new FaceError(ErrorCode.Internal, 'snapshot store is closed');
    const key = versionKey(group.groupId, group.version, encoding, model);
    const existing = this.#current.get(key);
    if (existing) return existing;
    let building = this.#building.get(key);
    if (!building) {
      building = this.#build(group.groupId, encoding, model).finally(() => this.#building.delete(key));
      this.#building.set(key, building);
    }
    return building;
  }

  /** A snapshot by id, while it is kept. */
  get(id: string): SnapshotFile | undefined {
    return this.#files.get(id);
  }

  /** The reference a group result carries. */
  refOf(file: SnapshotFile): SnapshotRef {
    return { url: `${SNAPSHOT_PATH}/${file.id}`, etag: file.etag, byteLength: file.byteLength };
  }

  /**
   * Marks snapshots whose group moved on, and deletes those superseded for
   * longer than retainMs. Returns how many were deleted.
   */
  async sweep(now = Date.now()): Promise<number> {
    let deleted = 0;
    for (const file of [...this.#files.values()]) {
      const group = await this.options.store.getGroupById(file.group.groupId);
      const current =
        group !== undefined && group.deletedAt === null && group.version === file.group.version && file.searchModel === this.options.servedModel();
      if (current) {
        file.supersededAt = undefined;
        continue;
      }
      file.supersededAt ??= now;
      if (now - file.supersededAt < this.options.retainMs) continue;
      this.#forget(file);
      // An open download keeps its file descriptor; unlinking does not cut it off.
      await unlink(file.path).catch(() => {});
      deleted++;
    }
    return deleted;
  }

  /** Waits for builds in flight; files stay on disk until the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#building.values()]);
  }

  async #build(groupId: GroupId, encoding: FeatureEncoding, model: string): Promise<SnapshotFile> {
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.options.store.snapshotGroup(groupId);
      if (!snapshot || snapshot.group.deletedAt !== null) {
        throw new FaceError(ErrorCode.GroupNotFound, `group ${groupId} was deleted`);
      }
      // Another request may have built this version meanwhile.
      const existing = this.#current.get(versionKey(groupId, snapshot.group.version, encoding, model));
      if (existing) return existing;
      try {
        const file = await this.#write(snapshot, encoding, model);
        this.#files.set(file.id, file);
        this.#current.set(versionKey(groupId, file.group.version, encoding, model), file);
        this.#builds++;
        this.options.logger.info(
          { group: groupId, version: file.group.version, encoding, faces: file.group.faceCount, bytes: file.byteLength },
          'snapshot written',
        );
        return file;
      } catch (err) {
        // Faces deleted mid-build changed the group: read it again.
        if (err instanceof FaceChangedWhileReading && attempt < BUILD_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** Writes the snapshot body to a temporary file, then renames it into place. */
  async #write({ group, bindings }: GroupSnapshot, encoding: FeatureEncoding, model: string): Promise<Omit<SnapshotFile, 'supersededAt'>> {
    const temporary = join(this.options.dir, `.${randomBytes(8).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    const handle = await open(temporary, 'w');
    let byteLength = 0;
    const append = async (bytes: Uint8Array) => {
      hash.update(bytes);
      byteLength += bytes.length;
      await handle.write(bytes);
    };
    try {
      const writer = new SyncStreamWriter();
      await append(
        writer.header({ searchModel: model, serverTimeMs: Date.now(), featureEncoding: encoding, featureDim: this.options.featureDim }),
      );
      await append(
        writer.groupResult({
          groupName: group.name,
          groupId: group.groupId,
          cloudVersion: group.version,
          localVersion: 0,
          kind: SyncKind.Full,
          faceCount: group.faceCount,
          tokenDigest: digestFromHex(group.tokenDigest),
        }),
      );
      for await (const page of this.options.faces.pages(bindings, model)) await append(writer.faces(page));
      await append(writer.finish());
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(temporary).catch(() => {});
      throw err;
    }
    const digest = hash.digest('hex').slice(0, 32);
    const id = `g${group.groupId}-v${group.version}-${encoding}-${digest}`;
    const path = join(this.options.dir, `${id}.fpsync`);
    await rename(temporary, path);
    return { id, path, etag: `"${digest}"`, byteLength, featureEncoding: encoding, searchModel: model, group };
  }

  #forget(file: SnapshotFile): void {
    this.#files.delete(file.id);
    const key = versionKey(file.group.groupId, file.group.version, file.featureEncoding, file.searchModel);
    if (this.#current.get(key) === file) this.#current.delete(key);
  }
}
