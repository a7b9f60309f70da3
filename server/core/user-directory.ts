// Users: a group's bindings that carry a user id (with the user's info), as
// the Baidu dialect manages them. Everything here is the same groups and
// bindings the FacePass dialect and terminals see, so every change bumps
// group versions and reaches terminals by sync and push like any other.
import type { BindingRecord, CommittedChange, FaceStore, GroupRecord, GroupUser } from '../../storage/store.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName, type LibraryId } from './ids.js';
import { ErrorCode, FaceError, isFaceError } from './errors.js';
import { followed, NO_FOLLOWER, type CommitFollower } from './commit-follower.js';

export interface UserRef {
  userId: string;
  /** Absent: keep the user's current info ('' for a new user). */
  userInfo?: string;
}

export interface EnrolUserOptions {
  /** Create the group when it does not exist (Baidu face add). */
  createGroup: boolean;
  /** Replace every face of the user in the group by this one (REPLACE / UPDATE). */
  replace: boolean;
  /** The user's largest face count per group. */
  maxFacesPerUser: number;
  /** Refuse with USER_NOT_FOUND when the user is not in the group yet (UPDATE). */
  mustExist?: boolean;
}

export interface UserMembership {
  group: GroupRecord;
  user: GroupUser;
}

export class UserDirectory {
  constructor(
    private readonly store: FaceStore,
    /** Awaited after every write, so a search right after it sees it (read-your-writes). */
    private readonly follower: CommitFollower = NO_FOLLOWER,
  ) {}

  private followed<T extends CommittedChange | CommittedChange[] | null>(write: Promise<T>): Promise<T> {
    return followed(this.follower, write);
  }

  /** Libraries with a live group, and the default library, which always exists. */
  async listLibraries(): Promise<LibraryId[]> {
    const libraries = new Set(await this.store.listLibraries());
    libraries.add(DEFAULT_LIBRARY);
    return [...libraries].sort();
  }

  async getGroup(library: LibraryId, name: GroupName): Promise<GroupRecord> {
    const group = await this.store.getGroup(library, name);
    if (!group) throw new FaceError(ErrorCode.GroupNotFound, `group ${name} does not exist`, { groupName: name });
    return group;
  }

  /** Binds a stored face to a user of the group. FACE_ALREADY_IN_GROUP when the face is bound to it already. */
  async enrol(library: LibraryId, name: GroupName, token: FaceToken, user: UserRef, options: EnrolUserOptions): Promise<CommittedChange> {
    let group = await this.store.getGroup(library, name);
    if (!group && options.createGroup) group = await this.createIfMissing(library, name);
    if (!group) throw new FaceError(ErrorCode.GroupNotFound, `group ${name} does not exist`, { groupName: name });
    if (options.mustExist && !(await this.store.getGroupUser(group.groupId, user.userId))) {
      throw new FaceError(ErrorCode.UserNotFound, `user ${user.userId} is not in group ${name}`, { userId: user.userId });
    }
    const change = await this.followed(
      this.store.bind(library, name, token, user, { maxFacesPerUser: options.maxFacesPerUser, replaceUserFaces: options.replace }),
    );
    if (!change) throw new FaceError(ErrorCode.FaceAlreadyInGroup, `face ${token} is already in group ${name}`, { faceToken: token });
    return change;
  }

  /** The user's faces in the group, sorted by token. GROUP_NOT_FOUND, USER_NOT_FOUND. */
  async userFaces(library: LibraryId, name: GroupName, userId: string): Promise<BindingRecord[]> {
    const group = await this.getGroup(library, name);
    const found = await this.store.getGroupUser(group.groupId, userId);
    if (!found) throw new FaceError(ErrorCode.UserNotFound, `user ${userId} is not in group ${name}`, { userId });
    return found.bindings;
  }

  /** Removes one face of the user (the user goes with its last face). BINDING_NOT_FOUND if the user has no such face. */
  async removeUserFace(library: LibraryId, name: GroupName, userId: string, token: FaceToken): Promise<CommittedChange> {
    const group = await this.getGroup(library, name);
    const [binding] = await this.store.getBindings(group.groupId, [token]);
    if (!binding || binding.userId !== userId) {
      const user = await this.store.getGroupUser(group.groupId, userId);
      if (!user) throw new FaceError(ErrorCode.UserNotFound, `user ${userId} is not in group ${name}`, { userId });
      throw new FaceError(ErrorCode.BindingNotFound, `user ${userId} has no face ${token} in group ${name}`, { faceToken: token });
    }
    return this.followed(this.store.unbind(library, name, token));
  }

  /** The groups holding the user, with its info there: one group, or all (`null`). USER_NOT_FOUND when none. */
  async memberships(library: LibraryId, name: GroupName | null, userId: string): Promise<UserMembership[]> {
    const groups = name === null ? await this.store.groupsOfUser(library, userId) : [await this.getGroup(library, name)];
    const out: UserMembership[] = [];
    for (const group of groups) {
      const found = await this.store.getGroupUser(group.groupId, userId);
      if (found) out.push({ group, user: found.user });
    }
    if (out.length === 0) throw new FaceError(ErrorCode.UserNotFound, `user ${userId} does not exist`, { userId });
    return out;
  }

  async listUsers(library: LibraryId, name: GroupName, page: { offset: number; limit: number }): Promise<GroupUser[]> {
    const group = await this.getGroup(library, name);
    return this.store.listGroupUsers(group.groupId, page);
  }

  /** Removes the user from one group or from all (`null`). USER_NOT_FOUND when it is in none. */
  async deleteUser(library: LibraryId, name: GroupName | null, userId: string): Promise<CommittedChange[]> {
    if (name !== null) {
      await this.getGroup(library, name);
      return this.followed(this.store.deleteUser(library, name, userId));
    }
    const groups = await this.store.groupsOfUser(library, userId);
    if (groups.length === 0) throw new FaceError(ErrorCode.UserNotFound, `user ${userId} does not exist`, { userId });
    const changes: CommittedChange[] = [];
    for (const group of groups) {
      try {
        changes.push(...(await this.followed(this.store.deleteUser(library, group.name, userId))));
      } catch (err) {
        // Removed meanwhile (group deleted, user gone): that group is done.
        if (!isFaceError(err) || (err.code !== ErrorCode.UserNotFound && err.code !== ErrorCode.GroupNotFound)) throw err;
      }
    }
    return changes;
  }

  copyUser(library: LibraryId, from: GroupName, to: GroupName, userId: string, maxFacesPerUser: number): Promise<CommittedChange[]> {
    return this.followed(this.store.copyUser(library, from, to, userId, { maxFacesPerUser }));
  }

  /** The named live groups, in the order given; absent names are left out. */
  async groupStats(library: LibraryId, names: readonly GroupName[]): Promise<GroupRecord[]> {
    const out: GroupRecord[] = [];
    for (const name of names) {
      const group = await this.store.getGroup(library, name);
      if (group) out.push(group);
    }
    return out;
  }

  private async createIfMissing(library: LibraryId, name: GroupName): Promise<GroupRecord | undefined> {
    try {
      return (await this.followed(this.store.createGroup(library, name))).group;
    } catch (err) {
      // Created concurrently by another request: use it.
      if (isFaceError(err) && err.code === ErrorCode.GroupNameConflict) return this.store.getGroup(library, name);
      throw err;
    }
  }
}
