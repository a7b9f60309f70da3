// The face library use cases the dialects share: faces, images, groups and
// bindings. No HTTP here: arguments arrive validated and typed, results are
// domain records, failures are FaceErrors.
import sharp from 'sharp';
import type { BindingUser, CommittedChange, FaceRecord, FaceStore, GroupRecord } from '../../storage/store.js';
import type { FaceToken, GroupName, ImageId, LibraryId } from './ids.js';
import { ErrorCode, FaceError } from './errors.js';
import { faceCropRegion } from './geometry.js';
import { followed, NO_FOLLOWER, type CommitFollower } from './commit-follower.js';

export interface ImageFile {
  bytes: Uint8Array;
  mime: string;
}

export class FaceLibrary {
  constructor(
    private readonly store: FaceStore,
    /** Awaited after every write, so a search right after it sees it. */
    private readonly follower: CommitFollower = NO_FOLLOWER,
  ) {}

  private followed<T extends CommittedChange | CommittedChange[] | null>(write: Promise<T>): Promise<T> {
    return followed(this.follower, write);
  }

  /** A live (not deleted) face; FACE_TOKEN_NOT_FOUND otherwise. */
  async getFace(token: FaceToken): Promise<FaceRecord> {
    const face = await this.store.getFace(token);
    if (!face || face.deletedAt !== null) {
      throw new FaceError(ErrorCode.FaceTokenNotFound, `face_token ${token} does not exist`);
    }
    return face;
  }

  deleteFace(token: FaceToken): Promise<CommittedChange[]> {
    return this.followed(this.store.deleteFace(token));
  }

  /** The original upload, byte for byte. */
  async getImage(imageId: ImageId): Promise<ImageFile> {
    const image = await this.store.getImage(imageId);
    if (!image) throw new FaceError(ErrorCode.ImageNotFound, `image_id ${imageId} does not exist`);
    return { bytes: image.bytes, mime: image.mime };
  }

  /** The spec's face crop (see faceCropRegion), in the original's format. */
  async getFaceCrop(token: FaceToken): Promise<ImageFile> {
    const face = await this.getFace(token);
    const image = await this.store.getImage(face.imageId);
    if (!image) throw new FaceError(ErrorCode.Internal, `image ${face.imageId} of face ${token} is missing`);
    const region = faceCropRegion(face.rect, image.width, image.height);
    // rotate() applies EXIF orientation first: rects are in rotated coordinates.
    const pipeline = sharp(image.bytes, { failOn: 'none' }).rotate().extract(region);
    const bytes = image.mime === 'image/png' ? await pipeline.png().toBuffer() : await pipeline.jpeg({ quality: 92 }).toBuffer();
    return { bytes, mime: image.mime === 'image/png' ? 'image/png' : 'image/jpeg' };
  }

  createGroup(library: LibraryId, name: GroupName): Promise<CommittedChange> {
    return this.followed(this.store.createGroup(library, name));
  }

  deleteGroup(library: LibraryId, name: GroupName): Promise<CommittedChange> {
    return this.followed(this.store.deleteGroup(library, name));
  }

  async getGroup(library: LibraryId, name: GroupName): Promise<GroupRecord> {
    const group = await this.store.getGroup(library, name);
    if (!group) throw new FaceError(ErrorCode.GroupNotFound, `group ${name} does not exist`);
    return group;
  }

  /**
   * The group's face tokens (sorted) and their digest (PROTOCOL.md §10) at
   * one version: read in one short transaction, so the two always agree.
   */
  async groupContents(library: LibraryId, name: GroupName): Promise<{ tokens: FaceToken[]; tokenDigest: string }> {
    const group = await this.getGroup(library, name);
    const snapshot = await this.store.snapshotGroup(group.groupId);
    if (!snapshot || snapshot.group.deletedAt !== null) {
      throw new FaceError(ErrorCode.GroupNotFound, `group ${name} does not exist`);
    }
    return { tokens: snapshot.bindings.map((binding) => binding.faceToken), tokenDigest: snapshot.group.tokenDigest };
  }

  /** Live faces of the library in token order, a page at a time. */
  listFaces(library: LibraryId, page: { after?: FaceToken; limit: number }): Promise<FaceToken[]> {
    return this.store.listFaces(library, page);
  }

  /** Names of the library's live groups the face is bound to, sorted. */
  async groupsOfFace(library: LibraryId, token: FaceToken): Promise<GroupName[]> {
    const groups = await this.store.groupsOfFace(token);
    return groups.filter((group) => group.library === library).map((group) => group.name).sort();
  }

  listGroups(library: LibraryId): Promise<GroupRecord[]> {
    return this.store.listGroups(library);
  }

  /** Resolves null when the binding already existed (not an error, nothing changes). */
  bind(library: LibraryId, name: GroupName, token: FaceToken, user?: BindingUser): Promise<CommittedChange | null> {
    return this.followed(this.store.bind(library, name, token, user));
  }

  unbind(library: LibraryId, name: GroupName, token: FaceToken): Promise<CommittedChange> {
    return this.followed(this.store.unbind(library, name, token));
  }
}
