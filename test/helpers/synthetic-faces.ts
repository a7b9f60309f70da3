// Faces written straight into a store, with random unit features, for tests
// about groups, versions and sync that do not need real photos.
import { randomBytes } from 'node:crypto';
import type { FaceStore, FaceRecord } from '../../storage/store.js';
import { DEFAULT_LIBRARY, type ImageId } from '../../server/core/ids.js';
import { newFaceToken, newImageId } from '../../server/core/tokens.js';

export function randomUnitFeature(length = 512, random: () => number = Math.random): Float32Array {
  const feature = new Float32Array(length);
  let norm = 0;
  for (let i = 0; i < length; i++) {
    // Sum of uniforms: roughly Gaussian, so directions are spread evenly.
    const value = random() + random() + random() - 1.5;
    feature[i] = value;
    norm += value * value;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < length; i++) feature[i]! *= scale;
  return feature;
}

export function syntheticFace(modelVersion: string, imageId: ImageId = newImageId(), feature = randomUnitFeature()): FaceRecord {
  return {
    faceToken: newFaceToken(),
    library: DEFAULT_LIBRARY,
    imageId,
    rect: { left: 10, top: 10, right: 110, bottom: 110 },
    quality: { yaw: 0, pitch: 0, roll: 0, blur: 0.05, brightness: 128, brightnessStd: 40, size: 100, completeness: 1 },
    createdAt: Date.now(),
    modelVersion,
    feature,
    deletedAt: null,
  };
}

/** Adds `count` faces (each with a tiny placeholder image) and returns them. */
export async function addSyntheticFaces(store: FaceStore, count: number, modelVersion: string): Promise<FaceRecord[]> {
  const faces: FaceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const imageId = newImageId();
    const face = syntheticFace(modelVersion, imageId);
    await store.addImage({ imageId, mime: 'image/png', bytes: randomBytes(16), width: 200, height: 200, createdAt: Date.now() }, face);
    faces.push(face);
  }
  return faces;
}
