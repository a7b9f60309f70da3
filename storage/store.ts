// The face store contract: shaped by what the core needs (enrol, bind and
// bump a version, read what changed since a version), not by LMDB. Versions
// and transactions stay behind it: every mutating method is one atomic,
// durable transaction, resolved only once the change is on disk.
//
// A second backend (e.g. a distributed one) implements this interface and
// must pass the same contract suite (test/storage/store-contract.ts).
import type { FaceToken, GroupId, GroupName, ImageId, LibraryId } from './ids.js';
import type { FaceQuality } from '../models/engine.js';

/** Integer pixel rectangle, right/bottom exclusive-ish as FacePass reports them. */
export interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface ImageRecord {
  imageId: ImageId;
  /** MIME type of `bytes`, e.g. "image/jpeg". */
  mime: string;
  /** The original upload, byte for byte. */
  bytes: Uint8Array;
  width: number;
  height: number;
  createdAt: number;
}

export interface FaceRecord {
  faceToken: FaceToken;
  library: LibraryId;
  imageId: ImageId;
  rect: Rect;
  quality: FaceQuality;
  createdAt: number;
  /** The engine's `searchModel` that produced `feature`. */
  modelVersion: string;
  /** L2-normalised; stored as raw little-endian float32 bytes. Empty once the face is deleted. */
  feature: Float32Array;
  /** Set when the face was deleted; the record stays as history (spec: face delete keeps history). */
  deletedAt: number | null;
}

export interface GroupRecord {
  groupId: GroupId;
  library: LibraryId;
  name: GroupName;
  /** Bumped by create, delete, bind and unbind; continues across re-creations of the same name. */
  version: number;
  createdAt: number;
  updatedAt: number;
  faceCount: number;
  /** Distinct user ids among the bindings (bindings without a user id are not counted). */
  userCount: number;
  /** device-protocol/digest.ts digest of the bound face tokens, as 16 hex digits. */
  tokenDigest: string;
  deletedAt: number | null;
}

/** Who a bound face belongs to; optional (the FacePass dialect binds bare faces). */
export interface BindingUser {
  userId?: string;
  userInfo?: string;
}

/**
 * A user of a group (Baidu's user): the group's bindings that carry its
 * user id. Its info is one value per (group, user): every binding of the
 * user carries the same `userInfo`, so terminals see it on each face.
 */
export interface GroupUser {
  userId: string;
  /** '' when none was given. */
  userInfo: string;
  faceCount: number;
}

/** Per-call rules for bind with a user. */
export interface BindOptions {
  /** Refuse (USER_FACE_LIMIT) a bind that would give the user more faces than this in the group. */
  maxFacesPerUser?: number;
  /** Unbind every other face of the user in the group in the same transaction (Baidu REPLACE/UPDATE). */
  replaceUserFaces?: boolean;
}

export interface BindingRecord extends BindingUser {
  faceToken: FaceToken;
  boundAt: number;
}

export type ChangeOp = 'create' | 'delete' | 'bind' | 'unbind';

export interface ChangeRecord {
  groupId: GroupId;
  /** The group's version after this change. */
  version: number;
  op: ChangeOp;
  /** For bind and unbind. */
  faceToken?: FaceToken;
  at: number;
}

/** Emitted to `onCommit` listeners after a write is durable. */
export interface CommittedChange {
  /** The group as it is after the change. */
  group: GroupRecord;
  change: ChangeRecord;
}

/** The net effect on a group between two of its versions. */
export interface GroupDelta {
  fromVersion: number;
  toVersion: number;
  /** Bound at toVersion, and possibly not (or differently) held at fromVersion. Sorted. */
  upserted: FaceToken[];
  /** Possibly held at fromVersion, not bound at toVersion. Sorted. */
  removed: FaceToken[];
}

/** A consistent view of one group's bindings at one version. */
export interface GroupSnapshot {
  group: GroupRecord;
  bindings: BindingRecord[];
}

/**
 * How much change history to keep. Entries superseded by a later change of
 * the same face are dropped once older than both bounds; tombstones (the
 * latest change being an unbind, or a deleted group) are dropped once older
 * than `maxAgeMs`, after which a terminal older than them gets a full copy.
 */
export interface CompactionPolicy {
  /** The newest changes per group that are always kept whole. */
  keepChangesPerGroup: number;
  /** Changes younger than this are always kept whole. */
  maxAgeMs: number;
}

export interface CompactionResult {
  removedEntries: number;
  groupsCompacted: number;
}

/** What beginRestoredLineage did. */
export interface RestoredLineage {
  /** The version every live group is now at, and the next group id. */
  base: number;
  /** Live groups moved to it. */
  groups: number;
}

/**
 * A model upgrade in progress (see FaceStore.beginFeatureUpgrade): the
 * served features stay those of `from` while features of `to` are stored
 * beside them; finishFeatureUpgrade switches in one transaction.
 */
export interface FeatureUpgradeState {
  /** Model of the features served until the switch. */
  from: string;
  /** Model being upgraded to. */
  to: string;
  startedAt: number;
  /** Live faces with a feature of `to` stored beside the served one. */
  staged: number;
  /** Live faces whose photo gave no feature of `to` (markUpgradeFailed), with no staged one. */
  failed: number;
  /** Live faces now. */
  total: number;
}

/** What finishFeatureUpgrade did. */
export interface FeatureSwitch {
  /** False when some live faces had neither a staged feature nor a failure mark: nothing was written. */
  switched: boolean;
  /** Those faces (at most 1000), for the caller to re-extract before trying again. */
  pending: FaceToken[];
  /** Live faces that now serve a feature of `to`. */
  faces: number;
  /** Live faces kept without any feature (their photo failed with `to`). */
  failedCount: number;
  /** Those faces with the reason (at most 1000). */
  failed: Array<{ faceToken: FaceToken; reason: string }>;
}

export interface FaceStore {
  /** Stores an uploaded image and, when enrolment succeeded, its face, in one transaction. */
  addImage(image: ImageRecord, face?: FaceRecord): Promise<void>;
  getImage(imageId: ImageId): Promise<ImageRecord | undefined>;

  /** The face, deleted or not (check `deletedAt`). */
  getFace(token: FaceToken): Promise<FaceRecord | undefined>;
  /** Batch lookup in the order given; `undefined` where absent. */
  getFaces(tokens: readonly FaceToken[]): Promise<Array<FaceRecord | undefined>>;
  /**
   * Only the features of live faces, in the order given; `undefined` where
   * the face is absent or deleted. What a search index reads (no metadata
   * decoded), much cheaper than getFaces.
   */
  getFeatures(tokens: readonly FaceToken[]): Promise<Array<Float32Array | undefined>>;
  /**
   * Unbinds the face from every group (each bumps its version) and marks it
   * deleted, keeping image and history. FACE_TOKEN_NOT_FOUND if absent or already deleted.
   */
  deleteFace(token: FaceToken): Promise<CommittedChange[]>;
  /**
   * Live faces whose feature comes from another model than `searchModel`, in
   * token order, `limit` after `after`: what a model upgrade must re-extract.
   */
  facesOfOtherModels(searchModel: string, page: { after?: FaceToken; limit: number }): Promise<FaceRecord[]>;
  /**
   * Live faces per model of their feature (`modelVersion`; models with none
   * are absent), kept current by the writes themselves: it answers whether a
   * model upgrade has work to do without reading the face records.
   */
  featureModels(): Promise<Map<string, number>>;
  /**
   * Replaces a live face's feature with one from another model (a model
   * upgrade). Group versions do not change: terminals on the old model get a
   * RESET anyway. False if the face is deleted or absent.
   */
  replaceFeature(token: FaceToken, feature: Float32Array, modelVersion: string): Promise<boolean>;

  /**
   * The model of the served features, as recorded by the last model upgrade
   * (finishFeatureUpgrade) or its start; undefined in a store that never had
   * one (its faces' `modelVersion` say, see featureModels).
   */
  servedFeatureModel(): Promise<string | undefined>;
  /** The model upgrade in progress, or undefined. */
  featureUpgrade(): Promise<FeatureUpgradeState | undefined>;
  /**
   * Starts (or, for the same `to`, continues) a model upgrade: features of
   * `to` are kept beside the served ones (of `from`) until
   * finishFeatureUpgrade. An upgrade to another model in progress is
   * abandoned (its staged features dropped). While it runs, addImage stores
   * the feature of a face of model `to` (a new enrolment) beside, not as,
   * the served one: such a face serves no feature until the switch.
   */
  beginFeatureUpgrade(to: string, from: string): Promise<FeatureUpgradeState>;
  /** Live faces with neither a staged feature nor a failure mark, in token order, `limit` after `after`. */
  facesToUpgrade(page: { after?: FaceToken; limit: number }): Promise<FaceRecord[]>;
  /** Stores a live face's feature of the upgrade's model beside its served one. False if the face is gone or no upgrade to `to` runs. */
  stageFeature(token: FaceToken, to: string, feature: Float32Array): Promise<boolean>;
  /** Marks a live face whose photo gave no feature of `to`. False if gone, staged already, or no upgrade to `to` runs. */
  markUpgradeFailed(token: FaceToken, to: string, reason: string): Promise<boolean>;
  /**
   * Features of `model` of the given faces: during an upgrade to `model`, the
   * staged ones; otherwise (and for faces not staged) the served feature when
   * it is of `model`. What a search over the engine's model reads.
   */
  getFeaturesOf(model: string, tokens: readonly FaceToken[]): Promise<Array<Float32Array | undefined>>;
  /**
   * The switch, one transaction: when every live face has a staged feature
   * or a failure mark, the staged features become the served ones (faces
   * with a failure mark keep no feature and `modelVersion` ''), the
   * per-model counts and the served model become `to`, and the upgrade
   * ends. Otherwise writes nothing and names the faces still pending.
   * Group versions do not change: terminals on `from` get a RESET.
   */
  finishFeatureUpgrade(to: string): Promise<FeatureSwitch>;

  /** GROUP_NAME_CONFLICT if a live group has the name. */
  createGroup(library: LibraryId, name: GroupName): Promise<CommittedChange>;
  /** Removes all bindings, bumps the version once. GROUP_NOT_FOUND if no live group has the name. */
  deleteGroup(library: LibraryId, name: GroupName): Promise<CommittedChange>;
  /** The live group of that name. */
  getGroup(library: LibraryId, name: GroupName): Promise<GroupRecord | undefined>;
  /** Live or deleted. */
  getGroupById(groupId: GroupId): Promise<GroupRecord | undefined>;
  /** Live groups of a library, sorted by name. */
  listGroups(library: LibraryId): Promise<GroupRecord[]>;
  /** Live groups of every library, sorted by (library, name): what a search index loads at start. */
  listAllGroups(): Promise<GroupRecord[]>;

  /** Libraries that hold at least one live group, sorted. */
  listLibraries(): Promise<LibraryId[]>;

  /**
   * Binds a live face to a live group. Binding an existing binding again is
   * not an error and changes nothing: resolves null. GROUP_NOT_FOUND,
   * FACE_TOKEN_NOT_FOUND, USER_FACE_LIMIT (options.maxFacesPerUser).
   *
   * With `user.userId`: the face joins that user. A `user.userInfo` that
   * differs from the user's current info becomes the user's info, and the
   * user's other bindings are rewritten with it in the same transaction
   * (each logged as an unbind and a bind, so deltas re-send them); without
   * `userInfo` the binding takes the user's current info ('' for a new user).
   */
  bind(
    library: LibraryId,
    name: GroupName,
    token: FaceToken,
    user?: BindingUser,
    options?: BindOptions,
  ): Promise<CommittedChange | null>;
  /** GROUP_NOT_FOUND, BINDING_NOT_FOUND. */
  unbind(library: LibraryId, name: GroupName, token: FaceToken): Promise<CommittedChange>;
  /** Bindings of a group sorted by face token, `limit` after `after`. */
  listBindings(groupId: GroupId, page: { after?: FaceToken; limit: number }): Promise<BindingRecord[]>;
  /** Bindings of the given faces in a group, in the order given; `undefined` where not bound. */
  getBindings(groupId: GroupId, tokens: readonly FaceToken[]): Promise<Array<BindingRecord | undefined>>;
  /** All bindings of a group at one version, read in one short transaction. */
  snapshotGroup(groupId: GroupId): Promise<GroupSnapshot | undefined>;
  /** Live groups the face is bound to. */
  groupsOfFace(token: FaceToken): Promise<GroupRecord[]>;
  /** Tokens of the library's live faces in token order, `limit` after `after`. */
  listFaces(library: LibraryId, page: { after?: FaceToken; limit: number }): Promise<FaceToken[]>;

  /** Users of a group sorted by user id: `limit` of them from position `offset`. */
  listGroupUsers(groupId: GroupId, page: { offset: number; limit: number }): Promise<GroupUser[]>;
  /** One user of a group with its bindings (sorted by face token), read in one transaction. */
  getGroupUser(groupId: GroupId, userId: string): Promise<{ user: GroupUser; bindings: BindingRecord[] } | undefined>;
  /** Live groups of the library in which the user has a face, sorted by name. */
  groupsOfUser(library: LibraryId, userId: string): Promise<GroupRecord[]>;
  /** Unbinds every face of the user from the group, one transaction. GROUP_NOT_FOUND, USER_NOT_FOUND. */
  deleteUser(library: LibraryId, name: GroupName, userId: string): Promise<CommittedChange[]>;
  /**
   * Binds the user's faces of group `from` to group `to` with the user's
   * info, one transaction; faces already bound to `to` are left as they are.
   * GROUP_NOT_FOUND (details.groupName says which), USER_NOT_FOUND, USER_FACE_LIMIT.
   */
  copyUser(
    library: LibraryId,
    from: GroupName,
    to: GroupName,
    userId: string,
    options?: Pick<BindOptions, 'maxFacesPerUser'>,
  ): Promise<CommittedChange[]>;

  /** The change log of a group in version order, `limit` entries after `afterVersion`. */
  readChanges(groupId: GroupId, page: { afterVersion: number; limit: number }): Promise<ChangeRecord[]>;
  /**
   * Net effect between `fromVersion` and the group's current version, in work
   * proportional to the changes in between. null when the kept log no longer
   * reaches back to `fromVersion` (or the group is unknown): send a full copy.
   * Also null for a deleted group, for a `fromVersion` above the current
   * version, and for one below the version this group id was created with
   * (those versions belong to an earlier group of the same name).
   */
  deltaSince(groupId: GroupId, fromVersion: number): Promise<GroupDelta | null>;
  compact(policy: CompactionPolicy, now?: number): Promise<CompactionResult>;

  /** Numeric server settings (e.g. recognition thresholds) by name; absent names are not set. */
  getSettings(): Promise<Record<string, number>>;
  /**
   * Sets (a finite number) or clears (null) several settings in one
   * transaction: all of them or none. Not part of any group's history.
   */
  putSettings(values: Readonly<Record<string, number | null>>): Promise<void>;
  /**
   * Writes a consistent copy of the whole store (one point in time, taken
   * while writes go on) into `dir`, created if missing and otherwise empty.
   * The backend's own open function opens that directory as a store.
   */
  backup(dir: string): Promise<void>;
  /**
   * After a restore from a backup: every group version and group id handed
   * out from now on is at least `base` (and above all existing ones), and
   * the versions each live group skips are remembered, so that a terminal
   * holding one of them (it saw history the backup lacks) gets a full copy
   * from `deltaSince` (null), while a terminal at a version this store had
   * still gets its delta. Sends no change notifications.
   */
  beginRestoredLineage(base: number): Promise<RestoredLineage>;

  /** Called after every durable change, in commit order. Returns an unsubscribe function. */
  onCommit(listener: (change: CommittedChange) => void): () => void;
  close(): Promise<void>;
}
