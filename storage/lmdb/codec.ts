// Conversions between the contract's records and what is stored. Binary
// values (image bytes, features) are stored raw and always copied out, so a
// caller never holds a view into lmdb-js's reused read buffers.
import { endianness } from 'node:os';
import type { FaceToken, GroupId, GroupName, ImageId, LibraryId } from '../ids.js';
import type { BindingRecord, ChangeRecord, FaceRecord, GroupRecord, ImageRecord } from '../store.js';
import type { StoredBinding, StoredChange, StoredFace, StoredGroup, StoredImage } from './layout.js';

const HOST_IS_LE = endianness() === 'LE';

/** A feature as raw little-endian float32 bytes (a fresh copy). */
export function featureToBytes(feature: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(feature.length * 4);
  if (HOST_IS_LE) {
    out.set(new Uint8Array(feature.buffer, feature.byteOffset, feature.byteLength));
  } else {
    for (let i = 0; i < feature.length; i++) out.writeFloatLE(feature[i]!, i * 4);
  }
  return out;
}

/** Raw little-endian float32 bytes back to a feature (own, aligned buffer). */
export function bytesToFeature(bytes: Uint8Array | undefined): Float32Array {
  if (!bytes || bytes.length === 0) return new Float32Array(0);
  if (bytes.length % 4 !== 0) throw new RangeError(`feature bytes not a multiple of 4: ${bytes.length}`);
  const out = new Float32Array(bytes.length / 4);
  if (HOST_IS_LE) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

export function copyBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}

export function toStoredImage(image: ImageRecord): StoredImage {
  return { mime: image.mime, width: image.width, height: image.height, createdAt: image.createdAt };
}

export function fromStoredImage(imageId: string, meta: StoredImage, bytes: Uint8Array | undefined): ImageRecord {
  return {
    imageId: imageId as ImageId,
    mime: meta.mime,
    bytes: bytes ? copyBytes(bytes) : new Uint8Array(0),
    width: meta.width,
    height: meta.height,
    createdAt: meta.createdAt,
  };
}

export function toStoredFace(face: FaceRecord): StoredFace {
  const { left, top, right, bottom } = face.rect;
  return {
    imageId: face.imageId,
    library: face.library,
    rect: { left, top, right, bottom },
    quality: { ...face.quality },
    createdAt: face.createdAt,
    modelVersion: face.modelVersion,
    deletedAt: face.deletedAt,
  };
}

export function fromStoredFace(token: string, face: StoredFace, feature: Uint8Array | undefined): FaceRecord {
  return {
    faceToken: token as FaceToken,
    library: face.library as LibraryId,
    imageId: face.imageId as ImageId,
    rect: { ...face.rect },
    quality: { ...face.quality },
    createdAt: face.createdAt,
    modelVersion: face.modelVersion,
    feature: bytesToFeature(feature),
    deletedAt: face.deletedAt,
  };
}

export function fromStoredGroup(group: StoredGroup): GroupRecord {
  return {
    groupId: group.groupId as GroupId,
    library: group.library as LibraryId,
    name: group.name as GroupName,
    version: group.version,
    createdAt: group.createdAt,
    updatedAt: group.updatedAt,
    faceCount: group.faceCount,
    userCount: group.userCount ?? 0,
    tokenDigest: group.tokenDigest,
    deletedAt: group.deletedAt,
  };
}

export function toStoredBinding(user: { userId?: string | undefined; userInfo?: string | undefined } | undefined, boundAt: number): StoredBinding {
  // Absent fields are left out rather than stored as msgpack `undefined`.
  const stored: StoredBinding = { boundAt };
  if (user?.userId !== undefined) stored.userId = user.userId;
  if (user?.userInfo !== undefined) stored.userInfo = user.userInfo;
  return stored;
}

export function fromStoredBinding(token: string, binding: StoredBinding): BindingRecord {
  const record: BindingRecord = { faceToken: token as FaceToken, boundAt: binding.boundAt };
  if (binding.userId !== undefined) record.userId = binding.userId;
  if (binding.userInfo !== undefined) record.userInfo = binding.userInfo;
  return record;
}

export function fromStoredChange(groupId: number, version: number, change: StoredChange): ChangeRecord {
  const record: ChangeRecord = { groupId: groupId as GroupId, version, op: change.op, at: change.at };
  if (change.faceToken !== undefined) record.faceToken = change.faceToken as FaceToken;
  return record;
}
