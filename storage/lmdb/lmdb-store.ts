// FaceStore on one LMDB environment (lmdb-js). Key layouts: layout.ts;
// durability: durability.ts; deltas: delta.ts; compaction: compaction.ts.
//
// Every mutating method is one write transaction that reads the state it
// depends on inside that transaction, so concurrent calls serialise: lmdb-js
// runs queued transaction callbacks one at a time, in order, and commits them
// in batches. Each method resolves only once its batch is durable.
//
// Timestamps: change entries get `at = max(clock(), group.updatedAt)`, so
// `at` never decreases along a group's versions even if the clock steps back;
// compaction relies on that to stop at the first entry that is too young.
import { FaceError, ErrorCode, isFaceError } from '../../models/errors.js';
import type { FaceToken, GroupId, GroupName, ImageId, LibraryId } from '../ids.js';
import { digestAdd, digestFromHex, digestRemove, digestToHex, EMPTY_DIGEST } from '../../device-protocol/digest.js';
import { mkdirSync } from 'node:fs';
import type { RootDatabase, Transaction } from 'lmdb';
import type {
  BindOptions,
  BindingRecord,
  BindingUser,
  ChangeRecord,
  CommittedChange,
  CompactionPolicy,
  CompactionResult,
  FaceRecord,
  FaceStore,
  FeatureSwitch,
  FeatureUpgradeState,
  GroupDelta,
  GroupRecord,
  GroupSnapshot,
  GroupUser,
  ImageRecord,
  RestoredLineage,
} from '../store.js';
import { appendChange } from './change-log.js';
import {
  bytesToFeature,
  featureToBytes,
  fromStoredBinding,
  fromStoredChange,
  fromStoredFace,
  fromStoredGroup,
  fromStoredImage,
  toStoredBinding,
  toStoredFace,
  toStoredImage,
} from './codec.js';
import { CommitNotifier, type ListenerErrorHandler } from './commit-notifier.js';

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** lmdb-js's getBinaryFast takes read options too; its typings omit them. */
type FastGet = { getBinaryFast(key: string, options: { transaction: Transaction }): Uint8Array | undefined };
import { compactGroup, mayCompact, nextGroupWithMarks } from './compaction.js';
import { answerability, deltaFromLog, type LogEntry } from './delta.js';
import { durableTransaction, openEnvironment } from './durability.js';
import { countFeatureModel, ensureFeatureModelCounts, featureModelCounts } from './feature-models.js';
import * as upgrade from './feature-upgrade.js';
import {
  type Databases,
  type NameKey,
  type StoredChange,
  type StoredGroup,
  openDatabases,
  pairPrefixRange,
  prefixRange,
  SCHEMA_VERSION,
} from './layout.js';

export interface LmdbStoreOptions {
  /** Directory of the LMDB environment; created if missing. Required. */
  path: string;
  /**
   * Milliseconds lmdb-js waits to gather writes into one commit. Default 0:
   * commit at the next event turn (everything queued in the current turn
   * shares one transaction and one fsync).
   */
  commitDelay?: number;
  /**
   * lmdb-js `overlappingSync`: fsync after releasing the writer lock, so the
   * next batch can start meanwhile. Default true (false on Windows, where
   * lmdb-js advises against it). Writes are durable before they resolve
   * either way; see durability.ts.
   */
  overlappingSync?: boolean;
  /**
   * Max log entries a compaction touches per write transaction (keeps
   * transactions short while other writes wait). Default 10000.
   */
  compactionBatchSize?: number;
  /** Groups compacted concurrently (their transactions share commits). Default 16. */
  compactionParallelism?: number;
  /** Called when an `onCommit` listener throws. Default: console.error. */
  onListenerError?: ListenerErrorHandler;
  /** Clock for createdAt/updatedAt/boundAt/at. Default Date.now. */
  clock?: () => number;
}

export const LMDB_STORE_DEFAULTS = {
  commitDelay: 0,
  overlappingSync: process.platform !== 'win32',
  compactionBatchSize: 10_000,
  compactionParallelism: 16,
} as const;

const EMPTY_DIGEST_HEX = digestToHex(EMPTY_DIGEST);

/** Opens (creating if needed) the store at `options.path`. */
export async function openLmdbStore(options: LmdbStoreOptions): Promise<LmdbFaceStore> {
  if (!options || typeof options.path !== 'string' || options.path === '') {
    throw new FaceError(ErrorCode.Internal, 'openLmdbStore: options.path is required');
  }
  const env = openEnvironment({
    path: options.path,
    commitDelay: options.commitDelay ?? LMDB_STORE_DEFAULTS.commitDelay,
    overlappingSync: options.overlappingSync ?? LMDB_STORE_DEFAULTS.overlappingSync,
  });
  const db = openDatabases(env);
  try {
    await durableTransaction(env, () => {
      const schema = db.meta.get('schema');
      if (schema === undefined) db.meta.putSync('schema', SCHEMA_VERSION);
      else if (schema !== SCHEMA_VERSION) {
        throw new FaceError(ErrorCode.Internal, `face store at ${options.path} has schema ${schema}, expected ${SCHEMA_VERSION}`);
      }
      ensureFeatureModelCounts(db);
    });
  } catch (error) {
    await env.close();
    throw toFaceError(error, 'open');
  }
  return new LmdbFaceStore(db, options);
}

interface WriteOutcome<T> {
  result: T;
  changes: CommittedChange[];
}

export class LmdbFaceStore implements FaceStore {
  private readonly notifier: CommitNotifier;
  private readonly clock: () => number;
  private readonly compactionBatchSize: number;
  private readonly compactionParallelism: number;
  private readonly inflight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  /** Use openLmdbStore. */
  constructor(
    private readonly db: Databases,
    options: LmdbStoreOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.compactionBatchSize = Math.max(1, options.compactionBatchSize ?? LMDB_STORE_DEFAULTS.compactionBatchSize);
    this.compactionParallelism = Math.max(1, options.compactionParallelism ?? LMDB_STORE_DEFAULTS.compactionParallelism);
    this.notifier = new CommitNotifier(
      options.onListenerError ??
        ((error, change) => console.error(`face store: onCommit listener failed for group ${change.change.groupId} v${change.change.version}`, error)),
    );
  }

  private get env(): RootDatabase {
    return this.db.env;
  }

  // ---- images and faces ---------------------------------------------------

  async addImage(image: ImageRecord, face?: FaceRecord): Promise<void> {
    await this.write('addImage', () => {
      if (face && this.db.faceMeta.get(face.faceToken) !== undefined) {
        throw new FaceError(ErrorCode.Internal, `face token already exists: ${face.faceToken}`);
      }
      this.db.imageMeta.putSync(image.imageId, toStoredImage(image));
      this.db.imageBytes.putSync(image.imageId, Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength));
      if (face) {
        this.db.faceMeta.putSync(face.faceToken, { ...toStoredFace(face), gen: upgrade.generation(this.db) });
        if (face.deletedAt === null) countFeatureModel(this.db, face.modelVersion, 1);
        if (face.deletedAt === null && face.feature.length > 0) {
          // During an upgrade to its model, a new face's feature waits beside
          // the served ones (of the old model) for the switch.
          if (upgrade.stagesNewFaces(this.db, face.modelVersion)) upgrade.stage(this.db, face.faceToken, featureToBytes(face.feature));
          else upgrade.servedSlot(this.db).putSync(face.faceToken, featureToBytes(face.feature));
        }
      }
      return { result: undefined, changes: [] };
    });
  }

  async getImage(imageId: ImageId): Promise<ImageRecord | undefined> {
    this.assertOpen();
    const meta = this.db.imageMeta.get(imageId);
    if (!meta) return undefined;
    return fromStoredImage(imageId, meta, this.db.imageBytes.get(imageId));
  }

  async getFace(token: FaceToken): Promise<FaceRecord | undefined> {
    this.assertOpen();
    return this.readFace(token);
  }

  async getFaces(tokens: readonly FaceToken[]): Promise<Array<FaceRecord | undefined>> {
    this.assertOpen();
    return this.read((transaction) => {
      const view = upgrade.modelView(this.db, transaction);
      return tokens.map((token) => this.readFace(token, transaction, view));
    });
  }

  async getFeatures(tokens: readonly FaceToken[]): Promise<Array<Float32Array | undefined>> {
    this.assertOpen();
    return this.read((transaction) => {
      // One buffer for the whole batch (views into it), read through lmdb's
      // reused buffer: no allocation per face, which dominates a 100,000-face
      // index build otherwise.
      const out: Array<Float32Array | undefined> = new Array(tokens.length);
      const served = upgrade.servedSlot(this.db, transaction);
      let all: Float32Array | undefined;
      let bytes: Uint8Array | undefined;
      tokens.forEach((token, i) => {
        // Deleting a face removes its feature row, so a present row is a live face.
        const fast = (served as unknown as FastGet).getBinaryFast(token, { transaction });
        if (fast === undefined || fast.length === 0) return;
        // lmdb's reused buffer is larger than the value: its `length` is set to the value's size.
        const found = fast.subarray(0, fast.length);
        if (found.length % 4 !== 0) return void (out[i] = bytesToFeature(found)); // throws: a corrupt row
        if (!all || found.length * tokens.length !== all.byteLength) {
          if (all) return void (out[i] = bytesToFeature(found));
          all = new Float32Array((found.length / 4) * tokens.length);
          bytes = new Uint8Array(all.buffer);
        }
        if (!HOST_IS_LITTLE_ENDIAN) return void (out[i] = bytesToFeature(found));
        bytes!.set(found, i * found.length);
        out[i] = all.subarray((i * found.length) / 4, ((i + 1) * found.length) / 4);
      });
      return out;
    });
  }

  async deleteFace(token: FaceToken): Promise<CommittedChange[]> {
    return this.write('deleteFace', () => {
      const face = this.db.faceMeta.get(token);
      if (!face || face.deletedAt !== null) {
        throw new FaceError(ErrorCode.FaceTokenNotFound, `face token not found: ${token}`, { faceToken: token });
      }
      const model = upgrade.effectiveModel(face, upgrade.servedSlot(this.db).doesExist(token), upgrade.modelView(this.db));
      const groupIds = Array.from(prefixRange(this.db.faceGroups, token), (row) => row.key[1]);
      const changes: CommittedChange[] = [];
      for (const groupId of groupIds) {
        const group = this.db.groups.get(groupId);
        if (!group || group.deletedAt !== null) {
          // Not reachable (deleteGroup removes reverse entries); heal the index.
          this.db.faceGroups.removeSync([token, groupId]);
          continue;
        }
        changes.push(this.applyUnbind(group, token));
      }
      const now = this.clock();
      this.db.faceMeta.putSync(token, { ...face, modelVersion: model, deletedAt: now });
      upgrade.forgetFace(this.db, token);
      countFeatureModel(this.db, model, -1);
      return { result: changes, changes };
    });
  }

  async facesOfOtherModels(searchModel: string, page: { after?: FaceToken; limit: number }): Promise<FaceRecord[]> {
    this.assertOpen();
    return this.read((transaction) => {
      const faces: FaceRecord[] = [];
      const view = upgrade.modelView(this.db, transaction);
      const rows = this.db.faceMeta.getRange({ start: page.after ?? '', transaction });
      for (const { key, value } of rows) {
        if (faces.length >= page.limit) break;
        if (key === page.after || value.deletedAt !== null) continue;
        const face = this.readFace(key as FaceToken, transaction, view)!;
        if (face.modelVersion !== searchModel) faces.push(face);
      }
      return faces;
    });
  }

  async featureModels(): Promise<Map<string, number>> {
    this.assertOpen();
    return this.read((transaction) => featureModelCounts(this.db, transaction));
  }

  async replaceFeature(token: FaceToken, feature: Float32Array, modelVersion: string): Promise<boolean> {
    return this.write('replaceFeature', () => {
      const face = this.db.faceMeta.get(token);
      if (!face || face.deletedAt !== null) return { result: false, changes: [] };
      const served = upgrade.servedSlot(this.db);
      const old = upgrade.effectiveModel(face, served.doesExist(token), upgrade.modelView(this.db));
      this.db.faceMeta.putSync(token, { ...face, modelVersion, gen: upgrade.generation(this.db) });
      served.putSync(token, featureToBytes(feature));
      countFeatureModel(this.db, old, -1);
      countFeatureModel(this.db, modelVersion, 1);
      return { result: true, changes: [] };
    });
  }

  // ---- model upgrade (feature-upgrade.ts) ----------------------------------

  async servedFeatureModel(): Promise<string | undefined> {
    this.assertOpen();
    return upgrade.servedModel(this.db);
  }

  async featureUpgrade(): Promise<FeatureUpgradeState | undefined> {
    this.assertOpen();
    return this.read((transaction) => {
      const state = upgrade.upgradeState(this.db, transaction);
      return state ? upgrade.toState(state, upgrade.liveFaces(this.db, transaction)) : undefined;
    });
  }

  async beginFeatureUpgrade(to: string, from: string): Promise<FeatureUpgradeState> {
    return this.write('beginFeatureUpgrade', () => {
      const state = upgrade.beginUpgrade(this.db, to, from, this.clock());
      return { result: upgrade.toState(state, upgrade.liveFaces(this.db)), changes: [] };
    });
  }

  async facesToUpgrade(page: { after?: FaceToken; limit: number }): Promise<FaceRecord[]> {
    this.assertOpen();
    return this.read((transaction) => {
      const faces: FaceRecord[] = [];
      if (!upgrade.upgradeState(this.db, transaction)) return faces;
      const staging = upgrade.stagingSlot(this.db, transaction);
      for (const { key, value } of this.db.faceMeta.getRange({ start: page.after ?? '', transaction })) {
        if (faces.length >= page.limit) break;
        if (key === page.after || value.deletedAt !== null) continue;
        if ((staging as unknown as FastGet).getBinaryFast(key, { transaction }) !== undefined) continue;
        if (this.db.upgradeFailures.get(key, { transaction }) !== undefined) continue;
        faces.push(this.readFace(key as FaceToken, transaction)!);
      }
      return faces;
    });
  }

  async stageFeature(token: FaceToken, to: string, feature: Float32Array): Promise<boolean> {
    return this.write('stageFeature', () => {
      const face = this.db.faceMeta.get(token);
      if (!face || face.deletedAt !== null || upgrade.upgradeState(this.db)?.to !== to) return { result: false, changes: [] };
      upgrade.stage(this.db, token, featureToBytes(feature));
      return { result: true, changes: [] };
    });
  }

  async markUpgradeFailed(token: FaceToken, to: string, reason: string): Promise<boolean> {
    return this.write('markUpgradeFailed', () => {
      const face = this.db.faceMeta.get(token);
      if (!face || face.deletedAt !== null || upgrade.upgradeState(this.db)?.to !== to) return { result: false, changes: [] };
      return { result: upgrade.markFailed(this.db, token, reason), changes: [] };
    });
  }

  async getFeaturesOf(model: string, tokens: readonly FaceToken[]): Promise<Array<Float32Array | undefined>> {
    this.assertOpen();
    return this.read((transaction) => {
      const staging = upgrade.upgradeState(this.db, transaction)?.to === model ? upgrade.stagingSlot(this.db, transaction) : undefined;
      const view = upgrade.modelView(this.db, transaction);
      return tokens.map((token) => {
        const staged = staging?.get(token, { transaction });
        if (staged) return bytesToFeature(staged);
        const face = this.readFace(token, transaction, view);
        if (!face || face.deletedAt !== null || face.modelVersion !== model || face.feature.length === 0) return undefined;
        return face.feature;
      });
    });
  }

  async finishFeatureUpgrade(to: string): Promise<FeatureSwitch> {
    return this.write('finishFeatureUpgrade', () => ({ result: upgrade.switchFeatures(this.db, to, this.clock()), changes: [] }));
  }

  // ---- groups -----------------------------------------------------------

  async createGroup(library: LibraryId, name: GroupName): Promise<CommittedChange> {
    return this.write('createGroup', () => {
      if (this.db.groupByName.get([library, name]) !== undefined) {
        throw new FaceError(ErrorCode.GroupNameConflict, `group name exists: ${name}`, { groupName: name });
      }
      const version = (this.db.nameVersions.get([library, name]) ?? 0) + 1;
      const groupId = this.db.meta.get('nextGroupId') ?? 1;
      const at = this.clock();
      const group: StoredGroup = {
        groupId,
        library,
        name,
        version,
        createdAt: at,
        updatedAt: at,
        faceCount: 0,
        userCount: 0,
        tokenDigest: EMPTY_DIGEST_HEX,
        deletedAt: null,
      };
      this.db.meta.putSync('nextGroupId', groupId + 1);
      this.db.groups.putSync(groupId, group);
      this.db.groupByName.putSync([library, name], groupId);
      this.db.nameVersions.putSync([library, name], version);
      // Versions below the creating one belong to no state of this group id.
      this.db.logState.putSync(groupId, { floor: version, horizon: version });
      const change = this.logChange(group, { op: 'create', at });
      return { result: change, changes: [change] };
    });
  }

  async deleteGroup(library: LibraryId, name: GroupName): Promise<CommittedChange> {
    return this.write('deleteGroup', () => {
      const group = this.liveGroupByName(library, name);
      const tokens = Array.from(prefixRange(this.db.bindings, group.groupId), (row) => row.key[1]);
      for (const token of tokens) {
        this.db.bindings.removeSync([group.groupId, token]);
        this.db.faceGroups.removeSync([token, group.groupId]);
      }
      const users = Array.from(prefixRange(this.db.groupUsers, group.groupId), (row) => row.key[1]);
      for (const userId of users) {
        for (const row of Array.from(pairPrefixRange(this.db.userFaces, group.groupId, userId))) this.db.userFaces.removeSync(row.key);
        this.db.groupUsers.removeSync([group.groupId, userId]);
        this.db.userGroups.removeSync([userId, group.groupId]);
      }
      const at = this.nextAt(group);
      const updated: StoredGroup = {
        ...group,
        version: group.version + 1,
        updatedAt: at,
        faceCount: 0,
        userCount: 0,
        tokenDigest: EMPTY_DIGEST_HEX,
        deletedAt: at,
      };
      this.db.groups.putSync(group.groupId, updated);
      this.db.groupByName.removeSync([library, name]);
      this.db.nameVersions.putSync([library, name], updated.version);
      const change = this.logChange(updated, { op: 'delete', at });
      return { result: change, changes: [change] };
    });
  }

  async getGroup(library: LibraryId, name: GroupName): Promise<GroupRecord | undefined> {
    this.assertOpen();
    return this.read((transaction) => {
      const groupId = this.db.groupByName.get([library, name], { transaction });
      const group = groupId === undefined ? undefined : this.db.groups.get(groupId, { transaction });
      return group ? fromStoredGroup(group) : undefined;
    });
  }

  async getGroupById(groupId: GroupId): Promise<GroupRecord | undefined> {
    this.assertOpen();
    const group = this.db.groups.get(groupId);
    return group ? fromStoredGroup(group) : undefined;
  }

  async listGroups(library: LibraryId): Promise<GroupRecord[]> {
    this.assertOpen();
    return this.read((transaction) => {
      const out: GroupRecord[] = [];
      for (const row of prefixRange(this.db.groupByName, library, { transaction })) {
        const group = this.db.groups.get(row.value, { transaction });
        if (group) out.push(fromStoredGroup(group));
      }
      return out;
    });
  }

  async listAllGroups(): Promise<GroupRecord[]> {
    this.assertOpen();
    return this.read((transaction) => {
      const out: GroupRecord[] = [];
      for (const row of this.db.groupByName.getRange({ transaction })) {
        const group = this.db.groups.get(row.value, { transaction });
        if (group) out.push(fromStoredGroup(group));
      }
      return out;
    });
  }

  // ---- bindings -----------------------------------------------------------

  async listLibraries(): Promise<LibraryId[]> {
    this.assertOpen();
    return this.read((transaction) => {
      // One seek per library: after library L, the next key at or above
      // [L + '\0'] belongs to the next library (every [L, name] sorts below it).
      const out: LibraryId[] = [];
      let start: NameKey | [string] | undefined;
      for (;;) {
        let first: string | undefined;
        for (const row of this.db.groupByName.getRange({ ...(start ? { start: start as NameKey } : {}), limit: 1, transaction })) first = row.key[0];
        if (first === undefined) return out;
        out.push(first as LibraryId);
        start = [first + '\u0000'];
      }
    });
  }

  async bind(
    library: LibraryId,
    name: GroupName,
    token: FaceToken,
    user?: BindingUser,
    options: BindOptions = {},
  ): Promise<CommittedChange | null> {
    return this.write('bind', () => {
      const group = this.liveGroupByName(library, name);
      const face = this.db.faceMeta.get(token);
      // A face belongs to one library; from another library it does not exist.
      if (!face || face.deletedAt !== null || face.library !== library) {
        throw new FaceError(ErrorCode.FaceTokenNotFound, `face token not found: ${token}`, { faceToken: token });
      }
      if (this.db.bindings.get([group.groupId, token]) !== undefined) return { result: null, changes: [] };
      const userId = user?.userId;
      if (userId === undefined) {
        const change = this.applyBind(group.groupId, token, user);
        return { result: change, changes: [change] };
      }
      const changes: CommittedChange[] = [];
      const current = this.db.groupUsers.get([group.groupId, userId]);
      const userInfo = user?.userInfo ?? current?.userInfo ?? '';
      const others = this.userTokens(group.groupId, userId);
      if (options.replaceUserFaces) {
        for (const other of others) changes.push(this.applyUnbind(this.db.groups.get(group.groupId)!, other));
      } else {
        if (options.maxFacesPerUser !== undefined && others.length + 1 > options.maxFacesPerUser) {
          throw new FaceError(ErrorCode.UserFaceLimit, `user ${userId} already has ${others.length} faces in group ${name}`, {
            userId,
            limit: options.maxFacesPerUser,
          });
        }
        if (current && current.userInfo !== userInfo) changes.push(...this.rewriteUser(group.groupId, userId, others, userInfo));
      }
      const change = this.applyBind(group.groupId, token, { userId, userInfo });
      changes.push(change);
      return { result: change, changes };
    });
  }

  async unbind(library: LibraryId, name: GroupName, token: FaceToken): Promise<CommittedChange> {
    return this.write('unbind', () => {
      const group = this.liveGroupByName(library, name);
      if (this.db.bindings.get([group.groupId, token]) === undefined) {
        throw new FaceError(ErrorCode.BindingNotFound, `face ${token} is not bound to group ${name}`, { faceToken: token, groupName: name });
      }
      const change = this.applyUnbind(group, token);
      return { result: change, changes: [change] };
    });
  }

  async listBindings(groupId: GroupId, page: { after?: FaceToken; limit: number }): Promise<BindingRecord[]> {
    this.assertOpen();
    const limit = Math.floor(page.limit);
    if (!(limit > 0)) return [];
    return this.read((transaction) =>
      Array.from(
        prefixRange(this.db.bindings, groupId, { ...(page.after !== undefined ? { after: page.after } : {}), limit, transaction }),
        (row) => fromStoredBinding(row.key[1], row.value),
      ),
    );
  }

  async getBindings(groupId: GroupId, tokens: readonly FaceToken[]): Promise<Array<BindingRecord | undefined>> {
    this.assertOpen();
    return this.read((transaction) =>
      tokens.map((token) => {
        const stored = this.db.bindings.get([groupId, token], { transaction });
        return stored ? fromStoredBinding(token, stored) : undefined;
      }),
    );
  }

  async snapshotGroup(groupId: GroupId): Promise<GroupSnapshot | undefined> {
    this.assertOpen();
    return this.read((transaction) => {
      const group = this.db.groups.get(groupId, { transaction });
      if (!group) return undefined;
      const bindings = Array.from(prefixRange(this.db.bindings, groupId, { transaction }), (row) =>
        fromStoredBinding(row.key[1], row.value),
      );
      return { group: fromStoredGroup(group), bindings };
    });
  }

  async listFaces(library: LibraryId, page: { after?: FaceToken; limit: number }): Promise<FaceToken[]> {
    this.assertOpen();
    const limit = Math.floor(page.limit);
    if (!(limit > 0)) return [];
    return this.read((transaction) => {
      const tokens: FaceToken[] = [];
      for (const { key, value } of this.db.faceMeta.getRange({ start: page.after ?? '', transaction })) {
        if (tokens.length >= limit) break;
        if (key === page.after || value.deletedAt !== null || value.library !== library) continue;
        tokens.push(key as FaceToken);
      }
      return tokens;
    });
  }

  async groupsOfFace(token: FaceToken): Promise<GroupRecord[]> {
    this.assertOpen();
    return this.read((transaction) => {
      const out: GroupRecord[] = [];
      for (const row of prefixRange(this.db.faceGroups, token, { transaction })) {
        const group = this.db.groups.get(row.key[1], { transaction });
        if (group && group.deletedAt === null) out.push(fromStoredGroup(group));
      }
      return out;
    });
  }

  // ---- users (the bindings of a group that carry a user id) ------------------

  async listGroupUsers(groupId: GroupId, page: { offset: number; limit: number }): Promise<GroupUser[]> {
    this.assertOpen();
    const offset = Math.max(0, Math.floor(page.offset));
    const limit = Math.floor(page.limit);
    if (!(limit > 0)) return [];
    return this.read((transaction) => {
      const out: GroupUser[] = [];
      let skipped = 0;
      for (const row of prefixRange(this.db.groupUsers, groupId, { transaction })) {
        if (skipped++ < offset) continue;
        out.push({ userId: row.key[1], userInfo: row.value.userInfo, faceCount: row.value.faceCount });
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  async getGroupUser(groupId: GroupId, userId: string): Promise<{ user: GroupUser; bindings: BindingRecord[] } | undefined> {
    this.assertOpen();
    return this.read((transaction) => {
      const stored = this.db.groupUsers.get([groupId, userId], { transaction });
      if (!stored) return undefined;
      const bindings: BindingRecord[] = [];
      for (const row of pairPrefixRange(this.db.userFaces, groupId, userId, { transaction })) {
        const binding = this.db.bindings.get([groupId, row.key[2]], { transaction });
        if (binding) bindings.push(fromStoredBinding(row.key[2], binding));
      }
      return { user: { userId, userInfo: stored.userInfo, faceCount: stored.faceCount }, bindings };
    });
  }

  async groupsOfUser(library: LibraryId, userId: string): Promise<GroupRecord[]> {
    this.assertOpen();
    return this.read((transaction) => {
      const out: GroupRecord[] = [];
      for (const row of prefixRange(this.db.userGroups, userId, { transaction })) {
        const group = this.db.groups.get(row.key[1], { transaction });
        if (group && group.deletedAt === null && group.library === library) out.push(fromStoredGroup(group));
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async deleteUser(library: LibraryId, name: GroupName, userId: string): Promise<CommittedChange[]> {
    return this.write('deleteUser', () => {
      const group = this.liveGroupByName(library, name);
      const tokens = this.userTokens(group.groupId, userId);
      if (tokens.length === 0) throw new FaceError(ErrorCode.UserNotFound, `user ${userId} not in group ${name}`, { userId, groupName: name });
      const changes = tokens.map((token) => this.applyUnbind(this.db.groups.get(group.groupId)!, token));
      return { result: changes, changes };
    });
  }

  async copyUser(
    library: LibraryId,
    from: GroupName,
    to: GroupName,
    userId: string,
    options: Pick<BindOptions, 'maxFacesPerUser'> = {},
  ): Promise<CommittedChange[]> {
    return this.write('copyUser', () => {
      const source = this.liveGroupByName(library, from);
      const target = this.liveGroupByName(library, to);
      const user = this.db.groupUsers.get([source.groupId, userId]);
      if (!user) throw new FaceError(ErrorCode.UserNotFound, `user ${userId} not in group ${from}`, { userId, groupName: from });
      if (source.groupId === target.groupId) return { result: [], changes: [] };
      const present = this.userTokens(target.groupId, userId);
      const missing = this.userTokens(source.groupId, userId).filter(
        (token) => this.db.bindings.get([target.groupId, token]) === undefined,
      );
      if (options.maxFacesPerUser !== undefined && present.length + missing.length > options.maxFacesPerUser) {
        throw new FaceError(ErrorCode.UserFaceLimit, `user ${userId} would have more than ${options.maxFacesPerUser} faces in group ${to}`, {
          userId,
          limit: options.maxFacesPerUser,
        });
      }
      const changes: CommittedChange[] = [];
      const targetUser = this.db.groupUsers.get([target.groupId, userId]);
      if (targetUser && targetUser.userInfo !== user.userInfo) changes.push(...this.rewriteUser(target.groupId, userId, present, user.userInfo));
      for (const token of missing) changes.push(this.applyBind(target.groupId, token, { userId, userInfo: user.userInfo }));
      return { result: changes, changes };
    });
  }

  // ---- change log -----------------------------------------------------------

  async readChanges(groupId: GroupId, page: { afterVersion: number; limit: number }): Promise<ChangeRecord[]> {
    this.assertOpen();
    const limit = Math.floor(page.limit);
    if (!(limit > 0)) return [];
    return this.read((transaction) =>
      Array.from(prefixRange(this.db.changes, groupId, { after: page.afterVersion, limit, transaction }), (row) =>
        fromStoredChange(groupId, row.key[1], row.value),
      ),
    );
  }

  async deltaSince(groupId: GroupId, fromVersion: number): Promise<GroupDelta | null> {
    this.assertOpen();
    return this.read((transaction) => {
      const group = this.db.groups.get(groupId, { transaction });
      if (!group || group.deletedAt !== null) return null;
      const state = this.db.logState.get(groupId, { transaction });
      if (!state) return null;
      const answer = answerability(fromVersion, group.version, state);
      if (answer === 'unanswerable') return null;
      if (fromVersion === group.version) return { fromVersion, toVersion: group.version, upserted: [], removed: [] };
      // Range scan of the log from (gid, from+1): work ~ changes after `from`.
      const entries = (function* (db: Databases): Generator<LogEntry> {
        for (const row of prefixRange(db.changes, groupId, { after: fromVersion, transaction })) {
          const version = row.key[1];
          if (version > group.version) break;
          yield { version, op: row.value.op, faceToken: row.value.faceToken };
        }
      })(this.db);
      return deltaFromLog(entries, fromVersion, group.version, answer === 'exact');
    });
  }

  async compact(policy: CompactionPolicy, now: number = this.clock()): Promise<CompactionResult> {
    this.assertOpen();
    const keep = Math.max(0, Math.floor(policy.keepChangesPerGroup));
    const normalized: CompactionPolicy = { keepChangesPerGroup: keep, maxAgeMs: Math.max(0, policy.maxAgeMs) };
    let removedEntries = 0;
    const compacted = new Set<number>();
    // Walk the groups that have compaction marks, a few at a time so their
    // transactions share commits; each group's transaction reads that
    // group's current state, so concurrent binds interleave safely.
    let cursor = 0;
    let exhausted = false;
    const nextGroup = (): number | undefined => {
      if (exhausted) return undefined;
      const groupId = nextGroupWithMarks(this.db, cursor);
      if (groupId === undefined) exhausted = true;
      else cursor = groupId;
      return groupId;
    };
    const worker = async (): Promise<void> => {
      for (let groupId = nextGroup(); groupId !== undefined; groupId = nextGroup()) {
        if (!mayCompact(this.db, groupId, normalized, now)) continue;
        for (;;) {
          const gid = groupId;
          const result = await this.write('compact', () => ({
            result: compactGroup(this.db, gid, normalized, now, this.compactionBatchSize),
            changes: [],
          }));
          removedEntries += result.removedEntries;
          if (result.removedEntries > 0) compacted.add(gid);
          if (!result.more) break;
        }
      }
    };
    await Promise.all(Array.from({ length: this.compactionParallelism }, worker));
    return { removedEntries, groupsCompacted: compacted.size };
  }

  async getSettings(): Promise<Record<string, number>> {
    this.assertOpen();
    return this.read((transaction) => {
      const out: Record<string, number> = {};
      for (const row of this.db.settings.getRange({ transaction })) out[row.key] = row.value;
      return out;
    });
  }

  async putSettings(values: Readonly<Record<string, number | null>>): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      if (value !== null && !Number.isFinite(value)) {
        throw new FaceError(ErrorCode.Internal, `setting ${name} must be a finite number or null`);
      }
    }
    await this.write('putSettings', () => {
      for (const [name, value] of Object.entries(values)) {
        if (value === null) this.db.settings.removeSync(name);
        else this.db.settings.putSync(name, value);
      }
      return { result: undefined, changes: [] };
    });
  }

  async beginRestoredLineage(base: number): Promise<RestoredLineage> {
    if (!Number.isSafeInteger(base) || base < 1) {
      throw new FaceError(ErrorCode.Internal, `beginRestoredLineage: base must be a positive safe integer, got ${base}`);
    }
    return this.write('beginRestoredLineage', () => {
      // Above every version and group id this store has, whatever `base` says
      // (a wrong clock must not make the jump go backwards).
      let start = Math.max(base, this.db.meta.get('nextGroupId') ?? 1);
      for (const { value } of this.db.groups.getRange()) start = Math.max(start, value.version + 1);
      for (const { value } of this.db.nameVersions.getRange()) start = Math.max(start, value + 1);
      let groups = 0;
      for (const { key, value: group } of this.db.groups.getRange()) {
        if (group.deletedAt !== null) continue;
        const state = this.db.logState.get(key);
        if (state) this.db.logState.putSync(key, { ...state, skipped: [...(state.skipped ?? []), { after: group.version, before: start }] });
        this.db.groups.putSync(key, { ...group, version: start });
        groups++;
      }
      for (const { key } of this.db.nameVersions.getRange()) this.db.nameVersions.putSync(key, start);
      this.db.meta.putSync('nextGroupId', start);
      this.db.meta.putSync('lineage', start);
      return { result: { base: start, groups }, changes: [] };
    });
  }

  async backup(dir: string): Promise<void> {
    this.assertOpen();
    mkdirSync(dir, { recursive: true });
    // mdb_env_copy: a consistent copy from one read transaction while writes go on.
    await this.env.backup(dir, false);
  }

  onCommit(listener: (change: CommittedChange) => void): () => void {
    return this.notifier.subscribe(listener);
  }

  /** Refuses new calls, waits for pending writes, then closes the environment. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
        await this.env.close();
      })();
    }
    return this.closing;
  }

  // ---- internals ------------------------------------------------------------

  /** Runs `body` as one durable write transaction; notifies listeners after the durable commit. */
  private write<T>(operation: string, body: () => WriteOutcome<T>): Promise<T> {
    this.assertOpen();
    let outcome: WriteOutcome<T> | undefined;
    let ticket: number | undefined;
    const committed = durableTransaction(this.env, () => {
      outcome = body();
      // Last statement of the callback: nothing can throw after the reservation.
      if (outcome.changes.length > 0) ticket = this.notifier.reserve();
    });
    const done = committed.then(
      () => {
        if (ticket !== undefined) this.notifier.complete(ticket, outcome!.changes);
        return outcome!.result;
      },
      (error: unknown) => {
        if (ticket !== undefined) this.notifier.abandon(ticket);
        throw toFaceError(error, operation);
      },
    );
    this.inflight.add(done);
    const forget = () => this.inflight.delete(done);
    done.then(forget, forget);
    return done;
  }

  /** Runs `body` in one explicit read transaction (one consistent snapshot). */
  private read<T>(body: (transaction: Transaction) => T): T {
    const transaction = this.env.useReadTransaction();
    try {
      return body(transaction);
    } finally {
      transaction.done();
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new FaceError(ErrorCode.Internal, 'face store is closed');
  }

  /** `view`: upgrade.modelView of the same transaction, when reading many faces. */
  private readFace(token: FaceToken, transaction?: Transaction, view?: upgrade.ModelView): FaceRecord | undefined {
    const options = transaction ? { transaction } : undefined;
    const face = this.db.faceMeta.get(token, options);
    if (!face) return undefined;
    const models = view ?? upgrade.modelView(this.db, transaction);
    const feature = face.deletedAt === null ? models.features.get(token, options) : undefined;
    const model = upgrade.effectiveModel(face, feature !== undefined && feature.length > 0, models);
    return fromStoredFace(token, model === face.modelVersion ? face : { ...face, modelVersion: model }, feature);
  }

  /** Inside a write transaction: the live group of that name, or GROUP_NOT_FOUND. */
  private liveGroupByName(library: LibraryId, name: GroupName): StoredGroup {
    const groupId = this.db.groupByName.get([library, name]);
    const group = groupId === undefined ? undefined : this.db.groups.get(groupId);
    if (!group || group.deletedAt !== null) {
      throw new FaceError(ErrorCode.GroupNotFound, `group not found: ${name}`, { groupName: name });
    }
    return group;
  }

  /** Inside a write transaction: removes a binding known to exist and logs the unbind. */
  private applyUnbind(group: StoredGroup, token: string): CommittedChange {
    const at = this.nextAt(group);
    const binding = this.db.bindings.get([group.groupId, token]);
    this.db.bindings.removeSync([group.groupId, token]);
    this.db.faceGroups.removeSync([token, group.groupId]);
    let userCount = group.userCount ?? 0;
    const userId = binding?.userId;
    if (userId !== undefined) {
      this.db.userFaces.removeSync([group.groupId, userId, token]);
      const user = this.db.groupUsers.get([group.groupId, userId]);
      if (user && user.faceCount > 1) {
        this.db.groupUsers.putSync([group.groupId, userId], { ...user, faceCount: user.faceCount - 1 });
      } else {
        this.db.groupUsers.removeSync([group.groupId, userId]);
        this.db.userGroups.removeSync([userId, group.groupId]);
        userCount = Math.max(0, userCount - 1);
      }
    }
    const updated: StoredGroup = {
      ...group,
      version: group.version + 1,
      updatedAt: at,
      faceCount: group.faceCount - 1,
      userCount,
      tokenDigest: digestToHex(digestRemove(digestFromHex(group.tokenDigest), token)),
    };
    this.db.groups.putSync(group.groupId, updated);
    return this.logChange(updated, { op: 'unbind', faceToken: token, at });
  }

  /**
   * Inside a write transaction: adds a binding known to be absent (the face
   * is live and of the group's library), keeps the user indexes, logs the bind.
   */
  private applyBind(groupId: number, token: string, user: BindingUser | undefined): CommittedChange {
    const group = this.db.groups.get(groupId)!;
    const at = this.nextAt(group);
    this.db.bindings.putSync([groupId, token], toStoredBinding(user, at));
    this.db.faceGroups.putSync([token, groupId], true);
    let userCount = group.userCount ?? 0;
    const userId = user?.userId;
    if (userId !== undefined) {
      const current = this.db.groupUsers.get([groupId, userId]);
      if (!current) {
        userCount++;
        this.db.userGroups.putSync([userId, groupId], true);
      }
      this.db.groupUsers.putSync([groupId, userId], { userInfo: user?.userInfo ?? '', faceCount: (current?.faceCount ?? 0) + 1 });
      this.db.userFaces.putSync([groupId, userId, token], true);
    }
    const updated: StoredGroup = {
      ...group,
      version: group.version + 1,
      updatedAt: at,
      faceCount: group.faceCount + 1,
      userCount,
      tokenDigest: digestToHex(digestAdd(digestFromHex(group.tokenDigest), token)),
    };
    this.db.groups.putSync(groupId, updated);
    return this.logChange(updated, { op: 'bind', faceToken: token, at });
  }

  /** Inside a write transaction: the face tokens of a user in a group, sorted. */
  private userTokens(groupId: number, userId: string): string[] {
    return Array.from(pairPrefixRange(this.db.userFaces, groupId, userId), (row) => row.key[2]);
  }

  /**
   * Inside a write transaction: gives the user's bindings a new info. Each is
   * logged as an unbind and a bind, so the log keeps alternating per face
   * (delta.ts relies on it) and every terminal's next delta re-sends the face.
   */
  private rewriteUser(groupId: number, userId: string, tokens: readonly string[], userInfo: string): CommittedChange[] {
    const changes: CommittedChange[] = [];
    for (const token of tokens) {
      changes.push(this.applyUnbind(this.db.groups.get(groupId)!, token));
      changes.push(this.applyBind(groupId, token, { userId, userInfo }));
    }
    return changes;
  }

  /** Appends the change that produced `group.version` and returns what listeners get. */
  private logChange(group: StoredGroup, change: StoredChange): CommittedChange {
    appendChange(this.db, group.groupId, group.version, change);
    return { group: fromStoredGroup(group), change: fromStoredChange(group.groupId, group.version, change) };
  }

  /** A timestamp for the group's next change: never before its last one. */
  private nextAt(group: StoredGroup): number {
    return Math.max(this.clock(), group.updatedAt);
  }
}

function toFaceError(error: unknown, operation: string): FaceError {
  if (isFaceError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FaceError(ErrorCode.Internal, `face store ${operation} failed: ${message}`, {}, { cause: error });
}
