import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLmdbStore } from '../../../../storage/index.js';
import type { FaceStore } from '../../../../storage/store.js';
import { FaceIndex, SearchService } from '../../../../server/core/search/index.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName, type ImageId } from '../../../../server/core/ids.js';
import { isFaceError } from '../../../../server/core/errors.js';

const DIM = 4;
const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};
const quality = { yaw: 0, pitch: 0, roll: 0, blur: 0, brightness: 128, brightnessStd: 30, size: 100, completeness: 1 };

describe('SearchService.searchUsers (SID multiple)', function () {
  let dir: string;
  let store: FaceStore;
  let index: FaceIndex;
  let search: SearchService;
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
    // g3: one user's 40 faces nearer the query than anyone else's.
    for (let i = 0; i < 40; i++) await enrol('g3', 'eve', unit(1, 0.001 * i, 0, 0));
    await enrol('g3', 'fay', unit(0.2, 1, 0, 0));
    await enrol('g3', undefined, unit(0.3, 1, 0, 0));
    index = await FaceIndex.open(store, { dimensions: DIM });
    search = new SearchService(index, store, DIM);
  });

  after(async function () {
    index?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ranks the users of a group by their best face, each once, at most topN', async function () {
    const found = await search.searchUsers(DEFAULT_LIBRARY, ['g1' as GroupName], unit(1, 0, 0, 0), 10);
    expect(found.map((u) => u.userId)).to.deep.equal(['ann', 'bob', 'cat']);
    expect(found[0]!.cosine).to.be.closeTo(1, 1e-6);
    expect(found[0]!.score).to.be.closeTo(100, 1e-3);
    expect(found[2]!.cosine).to.be.closeTo(0, 1e-6);
    const two = await search.searchUsers(DEFAULT_LIBRARY, ['g1' as GroupName], unit(1, 0, 0, 0), 2);
    expect(two.map((u) => u.userId)).to.deep.equal(['ann', 'bob']);
  });

  it('searches every group of the library for null, a user per group', async function () {
    const found = await search.searchUsers(DEFAULT_LIBRARY, null, unit(1, 0, 0, 0), 3);
    expect(found.map((u) => [u.groupName, u.userId])).to.deep.equal([['g1', 'ann'], ['g3', 'eve'], ['g2', 'ann']]);
  });

  it('widens the candidates until one user\'s many faces no longer hide the next user', async function () {
    const found = await search.searchUsers(DEFAULT_LIBRARY, ['g3' as GroupName], unit(1, 0, 0, 0), 2);
    expect(found.map((u) => u.userId)).to.deep.equal(['eve', 'fay']);
    expect(found[1]!.cosine).to.be.closeTo(unit(0.2, 1, 0, 0)[0]!, 1e-6);
  });

  it('sees a bind and an unbind once the index has applied them', async function () {
    const token = await enrol('g1', 'gus', unit(0, 0, 0, 1));
    // Applied in commit order: awaiting the unbind covers the bind before it.
    await index.applied(await store.unbind(DEFAULT_LIBRARY, 'g1' as GroupName, token));
    let found = await search.searchUsers(DEFAULT_LIBRARY, ['g1' as GroupName], unit(0, 0, 0, 1), 1);
    expect(found.map((u) => u.userId)).to.not.include('gus');
    await index.applied(await store.bind(DEFAULT_LIBRARY, 'g1' as GroupName, token, { userId: 'gus' }));
    found = await search.searchUsers(DEFAULT_LIBRARY, ['g1' as GroupName], unit(0, 0, 0, 1), 1);
    expect(found.map((u) => u.userId)).to.deep.equal(['gus']);
  });

  it('GROUP_NOT_FOUND for an unknown group', async function () {
    try {
      await search.searchUsers(DEFAULT_LIBRARY, ['nope' as GroupName], unit(1, 0, 0, 0), 1);
      expect.fail('no error');
    } catch (err) {
      expect(isFaceError(err) && err.code).to.equal('GROUP_NOT_FOUND');
    }
  });
});
