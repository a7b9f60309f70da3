import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLmdbStore } from '../../../storage/index.js';
import type { FaceStore } from '../../../storage/store.js';
import { NearestUsers } from '../../../server/core/nearest-users.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName, type ImageId } from '../../../server/core/ids.js';
import { isFaceError } from '../../../server/core/errors.js';

const DIM = 4;
const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};
const quality = { yaw: 0, pitch: 0, roll: 0, blur: 0, brightness: 128, brightnessStd: 30, size: 100, completeness: 1 };

describe('NearestUsers', function () {
  let dir: string;
  let store: FaceStore;
  let n = 0;

  async function enrol(group: string, userId: string | undefined, feature: Float32Array): Promise<FaceToken> {
    const id = String(n++).padStart(24, 'x');
    const token = id as FaceToken;
    await store.addImage(
      { imageId: id as ImageId, mime: 'image/png', bytes: new Uint8Array([1]), width: 10, height: 10, createdAt: 1 },
      { faceToken: token, library: DEFAULT_LIBRARY, imageId: id as ImageId, rect: { left: 0, top: 0, right: 5, bottom: 5 }, quality, createdAt: 1, modelVersion: 'm', feature, deletedAt: null },
    );
    if (!(await store.getGroup(DEFAULT_LIBRARY, group as GroupName))) await store.createGroup(DEFAULT_LIBRARY, group as GroupName);
    await store.bind(DEFAULT_LIBRARY, group as GroupName, token, userId === undefined ? undefined : { userId });
    return token;
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'nearest-users-'));
    store = await openLmdbStore({ path: join(dir, 'store') });
    await enrol('g1', 'ann', unit(1, 0, 0, 0));
    await enrol('g1', 'ann', unit(1, 0.1, 0, 0));
    await enrol('g1', 'bob', unit(0.5, 1, 0, 0));
    await enrol('g1', 'cat', unit(0, 0, 1, 0));
    await enrol('g1', undefined, unit(1, 0, 0, 0)); // a face without a user is not a user
    await enrol('g2', 'ann', unit(0.9, 0.2, 0, 0));
    await enrol('g2', 'dan', unit(0.8, 0, 0.2, 0));
  });

  after(async function () {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ranks the users of a group by their best face, each once, at most topN', async function () {
    const found = await new NearestUsers(store).search(DEFAULT_LIBRARY, 'g1' as GroupName, unit(1, 0, 0, 0), 10);
    expect(found.map((u) => u.userId)).to.deep.equal(['ann', 'bob', 'cat']);
    expect(found[0]!.cosine).to.be.closeTo(1, 1e-6);
    expect(found[0]!.score).to.be.closeTo(100, 1e-3);
    expect(found[2]!.cosine).to.be.closeTo(0, 1e-6);
    const two = await new NearestUsers(store).search(DEFAULT_LIBRARY, 'g1' as GroupName, unit(1, 0, 0, 0), 2);
    expect(two.map((u) => u.userId)).to.deep.equal(['ann', 'bob']);
  });

  it('searches every group of the library for null, a user per group', async function () {
    const found = await new NearestUsers(store).search(DEFAULT_LIBRARY, null, unit(1, 0, 0, 0), 3);
    expect(found.map((u) => [u.groupName, u.userId])).to.deep.equal([['g1', 'ann'], ['g2', 'ann'], ['g2', 'dan']]);
  });

  it('GROUP_NOT_FOUND for an unknown group', async function () {
    try {
      await new NearestUsers(store).search(DEFAULT_LIBRARY, 'nope' as GroupName, unit(1, 0, 0, 0), 1);
      expect.fail('no error');
    } catch (err) {
      expect(isFaceError(err) && err.code).to.equal('GROUP_NOT_FOUND');
    }
  });
});
