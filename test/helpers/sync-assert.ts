// The check every end-to-end sync test makes: a terminal's copy of a group
// equals the server's group exactly.
import { expect } from 'chai';
import type { TerminalGallery } from '../../device-protocol/index.js';
import { DEFAULT_LIBRARY, type GroupName } from '../../server/core/ids.js';
import type { FaceStore } from '../../storage/store.js';

const bytesOf = (feature: Float32Array) => Buffer.from(feature.buffer, feature.byteOffset, feature.byteLength);

/** Tokens, user data and (unless `featuresWithin` is given) float32 features bit for bit. */
export async function expectInSync(
  store: FaceStore,
  gallery: TerminalGallery,
  name: string,
  featuresWithin?: (local: Float32Array, server: Float32Array) => boolean,
): Promise<void> {
  const group = await store.getGroup(DEFAULT_LIBRARY, name as GroupName);
  const local = gallery.group(name)!;
  expect(group, `server group ${name}`).to.not.equal(undefined);
  const snapshot = (await store.snapshotGroup(group!.groupId))!;
  expect(local.groupId).to.equal(group!.groupId);
  expect(local.version).to.equal(snapshot.group.version);
  expect([...local.faces.keys()].sort()).to.deep.equal(snapshot.bindings.map((b) => b.faceToken).sort());
  const faces = await store.getFaces(snapshot.bindings.map((b) => b.faceToken));
  snapshot.bindings.forEach((binding, i) => {
    const mine = local.faces.get(binding.faceToken)!;
    const same = featuresWithin
      ? featuresWithin(mine.feature, faces[i]!.feature)
      : bytesOf(mine.feature).equals(bytesOf(faces[i]!.feature));
    expect(same, `feature of ${binding.faceToken}`).to.equal(true);
    expect(mine.userId).to.equal(binding.userId);
    expect(mine.userInfo).to.equal(binding.userInfo);
  });
}
