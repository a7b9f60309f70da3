import { expect } from 'chai';
import { GroupFaces } from '../../../server/core/group-faces.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupId, type GroupName } from '../../../server/core/ids.js';
import type { BindingRecord, GroupRecord } from '../../../storage/store.js';

const token = (n: number) => `T${String(n).padStart(23, '0')}` as FaceToken;

/** A group of `count` bindings; every `every`-th belongs to "alice". Counts rows read. */
function fakeStore(count: number, every: number) {
  const rows: BindingRecord[] = Array.from({ length: count }, (_, i) => ({ faceToken: token(i), boundAt: i, userId: i % every === 0 ? 'alice' : 'bob' }));
  const group = { groupId: 1 as GroupId, name: 'g' as GroupName, faceCount: count, version: count } as GroupRecord;
  const stats = { read: 0 };
  return {
    stats,
    store: {
      getGroup: async () => group,
      getBindings: async (_id: GroupId, tokens: readonly FaceToken[]) => tokens.map((t) => rows.find((r) => r.faceToken === t)),
      listBindings: async (_id: GroupId, page: { after?: FaceToken; limit: number }) => {
        const start = page.after === undefined ? 0 : rows.findIndex((r) => r.faceToken > page.after!);
        const out = start < 0 ? [] : rows.slice(start, start + page.limit);
        stats.read += out.length;
        return out;
      },
    },
  };
}

const name = 'g' as GroupName;

describe('GroupFaces', function () {
  it('pages by token with a cursor, and a null cursor on the last page', async function () {
    const { store } = fakeStore(25, 1);
    const faces = new GroupFaces(store);
    const first = await faces.page(DEFAULT_LIBRARY, name, { limit: 10 });
    expect(first.faces.map((f) => f.faceToken)).to.deep.equal(Array.from({ length: 10 }, (_, i) => token(i)));
    expect(first.next).to.equal(token(9));
    const last = await faces.page(DEFAULT_LIBRARY, name, { limit: 10, after: token(19) });
    expect(last.faces).to.have.length(5);
    expect(last.next).to.equal(null);
    const exact = await faces.page(DEFAULT_LIBRARY, name, { limit: 25 });
    expect(exact.next).to.equal(null);
  });

  it('caps the page size', async function () {
    const { store } = fakeStore(1200, 1);
    const page = await new GroupFaces(store).page(DEFAULT_LIBRARY, name, { limit: 10_000 });
    expect(page.faces).to.have.length(500);
  });

  it('filters by user reading a bounded number of bindings per request, with a cursor to go on', async function () {
    const { store, stats } = fakeStore(12_000, 4000); // alice at 0, 4000, 8000
    const faces = new GroupFaces(store);
    const collected: string[] = [];
    let after: FaceToken | undefined;
    let requests = 0;
    for (;;) {
      stats.read = 0;
      const page = await faces.page(DEFAULT_LIBRARY, name, { limit: 10, userId: 'alice', after });
      expect(stats.read).to.be.at.most(5000);
      requests++;
      collected.push(...page.faces.map((f) => f.faceToken));
      if (page.next === null) break;
      after = page.next;
    }
    expect(collected).to.deep.equal([token(0), token(4000), token(8000)]);
    expect(requests).to.equal(3);
  });

  it('looks up one face token, honouring a user filter too', async function () {
    const { store } = fakeStore(10, 2);
    const faces = new GroupFaces(store);
    expect((await faces.page(DEFAULT_LIBRARY, name, { limit: 10, faceToken: token(4) })).faces).to.have.length(1);
    expect((await faces.page(DEFAULT_LIBRARY, name, { limit: 10, faceToken: token(3), userId: 'alice' })).faces).to.have.length(0);
    expect((await faces.page(DEFAULT_LIBRARY, name, { limit: 10, faceToken: token(99) })).faces).to.have.length(0);
  });
});
