import { expect } from 'chai';
import {
  applySyncStream,
  buildSyncRequest,
  digestOf,
  SyncErrorCode,
  SyncKind,
  SyncStreamWriter,
  TerminalGallery,
  type ApplyOptions,
  type FeatureEncoding,
  type RequestInitLike,
  type ResponseLike,
  type SyncReport,
} from '../../device-protocol/index.js';
import { chunksOf, concatBytes, face, featureFor, MiniSyncServer, serverFetch, streamResponse } from './helpers.js';

const BASE = 'http://server.test';
const SYNC_URL = `${BASE}/api/service/sync/v1`;

function setup(groups = ['staff', 'visitors']) {
  const server = new MiniSyncServer();
  for (const name of groups) server.createGroup(name);
  const gallery = new TerminalGallery({ groups });
  return { server, gallery };
}

async function sync(
  server: MiniSyncServer,
  gallery: TerminalGallery,
  options: { featureEncoding?: FeatureEncoding; apply?: ApplyOptions } = {},
): Promise<SyncReport> {
  const body = buildSyncRequest(gallery, { clientVersion: 'test', featureEncoding: options.featureEncoding });
  const bytes = server.respond(JSON.parse(JSON.stringify(body)));
  return applySyncStream(gallery, chunksOf(bytes), { requestUrl: SYNC_URL, fetch: serverFetch(server).fetch, ...options.apply });
}

const tokens = (gallery: TerminalGallery, name: string) => [...gallery.group(name)!.faces.keys()].sort();
const kinds = (report: SyncReport) => report.groups.map((g) => g.kind);

/** The gallery's state, deeply, for before/after comparisons. */
function snapshotOf(gallery: TerminalGallery) {
  return {
    searchModel: gallery.searchModel,
    featureEncoding: gallery.featureEncoding,
    groups: [...gallery.groups].map(([name, g]) => [name, g.groupId, g.version, g.digest.toString(), [...g.faces.keys()].sort()]),
  };
}

describe('applySyncStream', () => {
  it('resets a new gallery and fills it with full copies, then records the server model', async () => {
    const { server, gallery } = setup();
    server.bind('staff', face('a', { userId: 'u-a', userInfo: 'Alice' }));
    server.bind('staff', face('b'));
    const report = await sync(server, gallery);
    expect(report.reset).to.equal(true); // '' is not the server's model
    expect(kinds(report)).to.deep.equal([SyncKind.Reset, SyncKind.Reset]);
    expect(tokens(gallery, 'staff')).to.deep.equal(['a', 'b']);
    const a = gallery.group('staff')!.faces.get('a')!;
    expect(a.userId).to.equal('u-a');
    expect(a.userInfo).to.equal('Alice');
    expect([...a.feature]).to.deep.equal([...featureFor('a')]);
    expect(gallery.group('staff')).to.include({ groupId: server.groups.get('staff')!.id, version: 3 });
    expect(gallery.searchModel).to.equal('model-2');
  });

  it('applies deltas, then reports UNCHANGED', async () => {
    const { server, gallery } = setup();
    server.bind('staff', face('a'));
    server.bind('staff', face('b'));
    await sync(server, gallery);
    server.unbind('staff', 'a');
    server.bind('staff', face('c'));
    const report = await sync(server, gallery);
    expect(kinds(report)).to.deep.equal([SyncKind.Delta, SyncKind.Unchanged]);
    expect(report.groups[0]).to.include({ upserted: 1, removed: 1, previousVersion: 3, cloudVersion: 5, faceCount: 2 });
    expect(tokens(gallery, 'staff')).to.deep.equal(['b', 'c']);
    expect(gallery.group('staff')!.digest).to.equal(digestOf(['b', 'c']));
    expect(kinds(await sync(server, gallery))).to.deep.equal([SyncKind.Unchanged, SyncKind.Unchanged]);
  });

  it('sends a full copy when the change log no longer reaches back', async () => {
    const { server, gallery } = setup(['staff']);
    await sync(server, gallery);
    server.bind('staff', face('a'));
    server.compact('staff');
    expect(kinds(await sync(server, gallery))).to.deep.equal([SyncKind.Full]);
    expect(tokens(gallery, 'staff')).to.deep.equal(['a']);
  });

  it('keeps the local copy of a group the server no longer has, then takes the re-created one whole', async () => {
    const { server, gallery } = setup(['staff']);
    server.bind('staff', face('a'));
    await sync(server, gallery);
    const before = gallery.group('staff');
    server.deleteGroup('staff');
    const report = await sync(server, gallery);
    expect(kinds(report)).to.deep.equal([SyncKind.GroupGone]);
    expect(report.needsResync).to.equal(false);
    expect(gallery.group('staff')).to.equal(before); // untouched: same id, version and faces
    server.createGroup('staff');
    server.bind('staff', face('z'));
    expect(kinds(await sync(server, gallery))).to.deep.equal([SyncKind.Full]); // new id
    expect(tokens(gallery, 'staff')).to.deep.equal(['z']);
  });

  it('drops all local data on a model change, including groups the server does not have', async () => {
    const { server, gallery } = setup(['staff', 'old']);
    server.createGroup('old');
    server.bind('staff', face('a'));
    server.bind('old', face('o'));
    await sync(server, gallery);
    server.deleteGroup('old');
    server.searchModel = 'model-3';
    const report = await sync(server, gallery);
    expect(report.reset).to.equal(true);
    expect(kinds(report)).to.deep.equal([SyncKind.Reset, SyncKind.GroupGone]);
    expect(tokens(gallery, 'staff')).to.deep.equal(['a']);
    expect(gallery.group('old')).to.include({ groupId: null, version: 0 });
    expect(gallery.group('old')!.faces.size).to.equal(0);
    expect(gallery.searchModel).to.equal('model-3');
  });

  it('reloads everything when the terminal switches feature encoding', async () => {
    const { server, gallery } = setup(['staff']);
    server.bind('staff', face('a'));
    await sync(server, gallery);
    const request = buildSyncRequest(gallery, { clientVersion: 't', featureEncoding: 'int8' });
    expect(request.groups).to.deep.equal([{ group_name: 'staff', local_version: 0 }]);
    const report = await sync(server, gallery, { featureEncoding: 'int8' });
    expect(report.reset).to.equal(true);
    expect(kinds(report)).to.deep.equal([SyncKind.Full]);
    expect(gallery.featureEncoding).to.equal('int8');
    const got = gallery.group('staff')!.faces.get('a')!.feature;
    featureFor('a').forEach((x, i) => expect(got[i]).to.be.closeTo(x, 0.01));
  });

  it('applies a delta without changing the state it started from (earlier states stay valid)', async () => {
    const { server, gallery } = setup(['staff']);
    for (const t of ['a', 'b', 'c']) server.bind('staff', face(t));
    await sync(server, gallery);
    const before = gallery.state;
    server.unbind('staff', 'a');
    server.bind('staff', face('d'));
    const report = await sync(server, gallery);
    expect(kinds(report)).to.deep.equal([SyncKind.Delta]);
    expect(report.groups[0]).to.include({ upserted: 1, removed: 1, faceCount: 3 });
    expect(tokens(gallery, 'staff')).to.deep.equal(['b', 'c', 'd']);
    expect(gallery.group('staff')!.digest).to.equal(digestOf(['b', 'c', 'd']));
    expect([...before.groups.get('staff')!.faces.keys()].sort(), 'the earlier state').to.deep.equal(['a', 'b', 'c']);
    expect(gallery.group('staff')!.faces.get('b')).to.equal(before.groups.get('staff')!.faces.get('b'));
  });

  describe('atomicity', () => {
    async function expectUnchanged(gallery: TerminalGallery, bytes: Uint8Array, code: string): Promise<void> {
      const state = gallery.state;
      const before = snapshotOf(gallery);
      let error: unknown;
      try {
        await applySyncStream(gallery, chunksOf(bytes));
      } catch (err) {
        error = err;
      }
      expect(error, 'expected a SyncError').to.have.property('code', code);
      expect(gallery.state).to.equal(state);
      expect(snapshotOf(gallery)).to.deep.equal(before);
    }

    async function syncedPair() {
      const { server, gallery } = setup();
      for (const t of ['a', 'b', 'c']) server.bind('staff', face(t));
      server.bind('visitors', face('v'));
      await sync(server, gallery);
      server.unbind('staff', 'a');
      server.bind('staff', face('d'));
      server.bind('visitors', face('w'));
      const bytes = server.respond(buildSyncRequest(gallery, { clientVersion: 't' }));
      return { server, gallery, bytes };
    }

    it('leaves the gallery untouched when the stream is truncated anywhere', async () => {
      const { gallery, bytes } = await syncedPair();
      for (const cut of [0, 1, 10, Math.floor(bytes.length / 2), bytes.length - 14, bytes.length - 1]) {
        await expectUnchanged(gallery, bytes.subarray(0, cut), SyncErrorCode.Truncated);
      }
    });

    it('leaves the gallery untouched when a byte is corrupted', async () => {
      const { gallery, bytes } = await syncedPair();
      const corrupt = bytes.slice();
      corrupt[bytes.length - 30] = corrupt[bytes.length - 30]! ^ 0x40; // inside the last feature
      await expectUnchanged(gallery, corrupt, SyncErrorCode.CrcMismatch);
    });

    it('leaves the gallery untouched when the connection breaks mid-stream', async () => {
      const { gallery, bytes } = await syncedPair();
      async function* broken() {
        yield bytes.subarray(0, 40);
        throw new Error('ECONNRESET');
      }
      const state = gallery.state;
      const error = await applySyncStream(gallery, broken()).catch((e: unknown) => e);
      expect(error).to.have.property('code', SyncErrorCode.Network);
      expect(gallery.state).to.equal(state);
    });

    it('leaves the gallery untouched when the server aborts the stream', async () => {
      const { gallery } = await syncedPair();
      const w = new SyncStreamWriter();
      const bytes = concatBytes(
        w.header({ searchModel: 'model-2', serverTimeMs: 0, featureEncoding: 'float32', featureDim: 8 }),
        w.groupResult({ groupName: 'staff', groupId: gallery.group('staff')!.groupId!, cloudVersion: 9, localVersion: 4, kind: SyncKind.Full, faceCount: 0, tokenDigest: 0n }),
        w.abort('INTERNAL', 'store failed'),
      );
      await expectUnchanged(gallery, bytes, SyncErrorCode.Server);
    });

    it('rejects an answer meant for another local state (stale echo)', async () => {
      const { server, gallery } = await syncedPair();
      const stale = server.respond({ ...buildSyncRequest(gallery, { clientVersion: 't' }), groups: [{ group_id: gallery.group('staff')!.groupId!, group_name: 'staff', local_version: 1 }] });
      await expectUnchanged(gallery, stale, SyncErrorCode.Inconsistent);
    });

    it('refuses to commit over a change made during the sync', async () => {
      const { gallery, bytes } = await syncedPair();
      async function* slow() {
        yield bytes.subarray(0, 10);
        gallery.addGroup('new');
        yield bytes.subarray(10);
      }
      const error = await applySyncStream(gallery, slow()).catch((e: unknown) => e);
      expect(error).to.have.property('code', SyncErrorCode.Conflict);
      expect(gallery.group('staff')!.version).to.equal(4);
    });
  });

  describe('digest verification', () => {
    /** A DELTA for 'staff' from the gallery's state, with hand-made contents. */
    function tamperedDelta(gallery: TerminalGallery, server: MiniSyncServer, upserts: string[], removed: string[]) {
      const g = server.groups.get('staff')!;
      const local = gallery.group('staff')!;
      const w = new SyncStreamWriter();
      return concatBytes(
        w.header({ searchModel: server.searchModel, serverTimeMs: 0, featureEncoding: 'float32', featureDim: 8 }),
        w.groupResult({ groupName: 'staff', groupId: g.id, cloudVersion: g.version, localVersion: local.version, kind: SyncKind.Delta, faceCount: g.faces.size, tokenDigest: digestOf(g.faces.keys()) }),
        w.faces(upserts.map((t) => face(t))),
        w.removed(removed),
        w.finish(),
      );
    }

    it('detects a delta that leaves the wrong set, resets the group, and heals with a full copy', async () => {
      const { server, gallery } = setup(['staff']);
      for (const t of ['a', 'b']) server.bind('staff', face(t));
      await sync(server, gallery);
      server.unbind('staff', 'a');
      server.bind('staff', face('c'));
      // same count, wrong member: 'x' instead of 'c' -> only the digest can tell
      const report = await applySyncStream(gallery, chunksOf(tamperedDelta(gallery, server, ['x'], ['a'])));
      expect(report.groups[0]!.mismatch).to.equal('digest');
      expect(report.needsResync).to.equal(true);
      expect(gallery.group('staff')).to.include({ groupId: null, version: 0 });
      expect(tokens(gallery, 'staff')).to.deep.equal(['b', 'x']); // the delta's removals did take effect

      const request = buildSyncRequest(gallery, { clientVersion: 't' });
      expect(request.groups).to.deep.equal([{ group_name: 'staff', local_version: 0 }]);
      const healed = await sync(server, gallery);
      expect(kinds(healed)).to.deep.equal([SyncKind.Full]);
      expect(healed.needsResync).to.equal(false);
      expect(tokens(gallery, 'staff')).to.deep.equal(['b', 'c']);
    });

    it('detects a delta that misses a removal by the face count', async () => {
      const { server, gallery } = setup(['staff']);
      for (const t of ['a', 'b']) server.bind('staff', face(t));
      await sync(server, gallery);
      server.unbind('staff', 'a');
      const report = await applySyncStream(gallery, chunksOf(tamperedDelta(gallery, server, [], [])));
      expect(report.groups[0]!.mismatch).to.equal('face_count');
      expect(gallery.group('staff')).to.include({ groupId: null, version: 0 });
    });
  });

  describe('snapshots', () => {
    it('downloads a large group from its snapshot reference', async () => {
      const { server, gallery } = setup(['staff']);
      for (let i = 0; i < 20; i++) server.bind('staff', face(`t${i}`));
      server.snapshotThreshold = 10;
      const { fetch, requests } = serverFetch(server);
      const report = await sync(server, gallery, { apply: { fetch, headers: { Authorization: 'Bearer k' } } });
      expect(report.groups[0]).to.include({ viaSnapshot: true, faceCount: 20 });
      expect(gallery.group('staff')!.digest).to.equal(digestOf(server.groups.get('staff')!.faces.keys()));
      expect(requests[0]!.url).to.match(/^http:\/\/server\.test\/snapshots\//);
      expect(requests[0]!.init.headers).to.include({ Authorization: 'Bearer k' });
    });

    function resumingFetch(server: MiniSyncServer, options: { breakAt: number; changeEtag?: boolean }) {
      const calls: Array<Record<string, string>> = [];
      const fetch = async (url: string, init: RequestInitLike): Promise<ResponseLike> => {
        const headers = init.headers ?? {};
        calls.push(headers);
        const bytes = server.snapshots.get(new URL(url).pathname)!;
        const etag = options.changeEtag && calls.length > 1 ? '"v2"' : '"v1"';
        const range = /^bytes=(\d+)-$/.exec(headers.Range ?? '');
        if (range && headers['If-Range'] === etag) {
          const start = Number(range[1]);
          return streamResponse(bytes.subarray(start), {
            status: 206,
            headers: { etag, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` },
            chunkSize: 7,
          });
        }
        return streamResponse(bytes, { headers: { etag }, chunkSize: 7, ...(calls.length === 1 ? { failAfter: options.breakAt } : {}) });
      };
      return { fetch, calls };
    }

    async function bigGroup() {
      const { server, gallery } = setup(['staff']);
      for (let i = 0; i < 20; i++) server.bind('staff', face(`t${i}`));
      server.snapshotThreshold = 10;
      return { server, gallery };
    }

    it('resumes a broken snapshot download with Range and If-Range', async () => {
      const { server, gallery } = await bigGroup();
      const { fetch, calls } = resumingFetch(server, { breakAt: 333 });
      const report = await sync(server, gallery, { apply: { fetch } });
      expect(calls).to.have.length(2);
      expect(calls[1]).to.include({ Range: 'bytes=333-', 'If-Range': '"v1"' });
      expect(report.groups[0]).to.include({ viaSnapshot: true, faceCount: 20 });
      expect(report.needsResync).to.equal(false);
    });

    it('starts over when the snapshot changed meanwhile (If-Range fails, 200)', async () => {
      const { server, gallery } = await bigGroup();
      const { fetch, calls } = resumingFetch(server, { breakAt: 333, changeEtag: true });
      const report = await sync(server, gallery, { apply: { fetch } });
      expect(calls).to.have.length(2);
      expect(report.groups[0]).to.include({ faceCount: 20 });
    });

    it('gives up after the allowed attempts, leaving the gallery untouched', async () => {
      const { server, gallery } = await bigGroup();
      const state = gallery.state;
      const fetch = async (url: string): Promise<ResponseLike> =>
        streamResponse(server.snapshots.get(new URL(url).pathname)!, { failAfter: 50 });
      const error = await sync(server, gallery, { apply: { fetch, snapshotAttempts: 3 } }).catch((e: unknown) => e);
      expect(error).to.have.property('code', SyncErrorCode.Snapshot);
      expect(gallery.state).to.equal(state);
    });

    it('rejects a snapshot that does not match its reference', async () => {
      const { server, gallery } = await bigGroup();
      const { fetch } = serverFetch(server);
      const tampering = async (url: string, init: RequestInitLike): Promise<ResponseLike> => {
        server.bind('staff', face('late')); // the snapshot now describes another version
        const g = server.groups.get('staff')!;
        server.snapshots.set(new URL(url).pathname, server.snapshot(g, 'staff', 'float32'));
        return fetch(url, init);
      };
      const state = gallery.state;
      const error = await sync(server, gallery, { apply: { fetch: tampering } }).catch((e: unknown) => e);
      expect(error).to.have.property('code', SyncErrorCode.Inconsistent);
      expect(gallery.state).to.equal(state);
    });
  });
});
