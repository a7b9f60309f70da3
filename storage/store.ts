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

export interface FaceStore {
  /** Stores an uploaded image and, when enrolment succeeded, its face, in one transaction. */
  addImage(image: ImageRecord, face?: FaceRecord): Promise<void>;
  getImage(imageId: ImageId): Promise<ImageRecord | undefined>;

  /** The face, deleted or not (check `deletedAt`). */
  getFace(token: FaceToken): Promise<FaceRecord | undefined>;
  /** Batch lookup in the order given; `undefined` where absent. */
  getFaces(tokens: readonly FaceToken[]): Promise<Array<FaceRecord | undefined>>;
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
