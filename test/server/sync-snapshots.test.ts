// Large full copies as snapshot files (PROTOCOL.md §11) and the shared
// encoding of deltas: served with ETag and Range, resumed after a broken
// download, built once however many terminals ask, kept for a while after
// the group moves on.
import { expect } from 'chai';
import { defaultConfig } from '../../server/config.js';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { SyncKind, TerminalClient, TerminalGallery, type FeatureEncoding, type FetchLike, type SyncReport } from '../../device-protocol/index.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { expectInSync } from '../helpers/sync-assert.js';
import { startTestServer, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const THRESHOLD = 50;
const GROUP = 'hall' as GroupName;

describe('sync snapshots and shared encodings', function () {
  let engine: FaceEngine;
  let ts: TestServer;
  let tokens: string[];

  const terminal = (gallery: TerminalGallery, options: { deviceId?: string; fetch?: FetchLike; featureEncoding?: FeatureEncoding } = {}) =>
    new TerminalClient({ baseUrl: ts.url, key: TEST_DEVICE_KEY, deviceId: options.deviceId ?? 'door-s', groups: [GROUP], gallery, ...options });
  const newGallery = () => new TerminalGallery({ groups: [GROUP] });
  const store = () => ts.server.store;

  /** The snapshot reference a fresh terminal gets, read from the raw stream. */
  async function snapshotRef(): Promise<{ url: string; etag: string; byteLength: number }> {
    let ref: { url: string; etag: string; byteLength: number } | undefined;
    const gallery = newGallery();
    const spy: FetchLike = async (url, init) => {
      const res = await fetch(url, init as RequestInit);
      if (url.includes('/snapshots/')) ref ??= { url, etag: res.headers.get('etag')!, byteLength: Number(res.headers.get('content-length')) };
      return res;
    };
    const client = terminal(gallery, { fetch: spy, deviceId: 'door-probe' });
    await client.syncOnce();
    await client.close();
    return ref!;
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
    ts = await startTestServer(engine, { sync: { ...defaultConfig().sync, snapshotThreshold: THRESHOLD, snapshotRetainMs: 60_000, bodyCacheBytes: 16 * 1024 * 1024 } });
    await store().createGroup(DEFAULT_LIBRARY, GROUP);
    const faces = await addSyntheticFaces(store(), 120, engine.searchModel);
    tokens = faces.map((face) => face.faceToken);
    for (const [i, token] of tokens.entries()) {
      await store().bind(DEFAULT_LIBRARY, GROUP, token as FaceToken, i % 2 ? { userId: `u${i}`, userInfo: `person ${i}` } : undefined);
    }
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('sends a group above the threshold as a snapshot reference, and the terminal ends up with exactly the group', async function () {
    const gallery = newGallery();
    const client = terminal(gallery);
    const report = await client.syncOnce();
    await client.close();
    // A new terminal has no model yet: RESET, which is a full copy too.
    expect(report.groups[0]).to.include({ kind: SyncKind.Reset, viaSnapshot: true, faceCount: 120, snapshotRequests: 1 });
    expect(report.snapshotBytes).to.be.greaterThan(120 * 2048);
    // The stream itself holds no records, only the reference.
    expect(report.bytes).to.be.lessThan(1000);
    await expectInSync(store(), gallery, GROUP);
  });

  it('builds one snapshot per version and encoding, however many terminals ask at once', async function () {
    const before = ts.server.snapshots.builds;
    const galleries = Array.from({ length: 12 }, newGallery);
    const clients = galleries.map((gallery, i) => terminal(gallery, { deviceId: `door-${i}`, featureEncoding: i % 2 ? 'int8' : 'float32' }));
    const reports: SyncReport[] = await Promise.all(clients.map((client) => client.syncOnce()));
    await Promise.all(clients.map((client) => client.close()));
    expect(reports.every((report) => report.groups[0]!.viaSnapshot)).to.equal(true);
    // float32 was built by the first test; int8 is new.
    expect(ts.server.snapshots.builds - before).to.equal(1);
    await expectInSync(store(), galleries[0]!, GROUP);
    await expectInSync(store(), galleries[1]!, GROUP, (local, server) => local.every((x, i) => Math.abs(x - server[i]!) < 0.01));
  });

  describe('download', function () {
    const get = (url: string, headers: Record<string, string> = {}) =>
      fetch(url, { headers: { Authorization: `Bearer ${TEST_DEVICE_KEY}`, ...headers } });

    it('serves the whole body with a strong ETag, and any single range with 206', async function () {
      const ref = await snapshotRef();
      const whole = await get(ref.url);
      expect(whole.status).to.equal(200);
      expect(whole.headers.get('etag')).to.match(/^"[0-9a-f]{32}"$/);
      expect(whole.headers.get('accept-ranges')).to.equal('bytes');
      expect(whole.headers.get('content-type')).to.equal('application/x-protobuf');
      const body = Buffer.from(await whole.arrayBuffer());
      expect(body.length).to.equal(ref.byteLength);

      const tail = await get(ref.url, { Range: 'bytes=1000-', 'If-Range': ref.etag });
      expect(tail.status).to.equal(206);
      expect(tail.headers.get('content-range')).to.equal(`bytes 1000-${body.length - 1}/${body.length}`);
      expect(Buffer.from(await tail.arrayBuffer()).equals(body.subarray(1000))).to.equal(true);

      const middle = await get(ref.url, { Range: 'bytes=10-19' });
      expect(middle.status).to.equal(206);
      expect(Buffer.from(await middle.arrayBuffer()).equals(body.subarray(10, 20))).to.equal(true);
    });

    it('answers 200 with the whole body when If-Range names another ETag, 416 past the end, 304 for If-None-Match', async function () {
      const ref = await snapshotRef();
      const changed = await get(ref.url, { Range: 'bytes=1000-', 'If-Range': '"0000"' });
      expect(changed.status).to.equal(200);
      expect((await changed.arrayBuffer()).byteLength).to.equal(ref.byteLength);
      const past = await get(ref.url, { Range: `bytes=${ref.byteLength + 5}-` });
      expect(past.status).to.equal(416);
      expect(past.headers.get('content-range')).to.equal(`bytes */${ref.byteLength}`);
      expect((await get(ref.url, { 'If-None-Match': ref.etag })).status).to.equal(304);
    });

    it('needs a key, and answers 404 for an unknown snapshot', async function () {
      const ref = await snapshotRef();
      expect((await fetch(ref.url)).status).to.equal(401);
      expect((await get(ref.url, { Authorization: `Bearer ${TEST_ADMIN_KEY}` })).status).to.equal(200);
      const unknown = await get(ref.url.replace(/[^/]+$/, 'g1-v1-float32-00000000000000000000000000000000'));
      expect(unknown.status).to.equal(404);
      expect(((await unknown.json()) as { code: number }).code).to.equal(404);
    });

    it('lets a terminal resume a broken download with Range instead of starting over', async function () {
      let cut = false;
      const requests: Array<{ range: string | null; status: number }> = [];
      // Breaks the first snapshot response after 100 KB, as a dropped connection would.
      const flaky: FetchLike = async (url, init) => {
        const res = await fetch(url, init as RequestInit);
        if (!url.includes('/snapshots/')) return res;
        requests.push({ range: (init?.headers as Record<string, string> | undefined)?.Range ?? null, status: res.status });
        if (cut) return res;
        cut = true;
        const reader = res.body!.getReader();
        let sent = 0;
        const broken = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done || sent > 100_000) {
              await reader.cancel();
              controller.error(new Error('connection reset'));
              return;
            }
            sent += value.length;
            controller.enqueue(value);
          },
        });
        return new Response(broken, { status: res.status, headers: res.headers });
      };
      const gallery = newGallery();
      const client = terminal(gallery, { fetch: flaky, deviceId: 'door-flaky' });
      const report = await client.syncOnce();
      await client.close();
      expect(report.groups[0]!.snapshotRequests).to.equal(2);
      expect(requests.map((r) => r.status)).to.deep.equal([200, 206]);
      expect(requests[1]!.range).to.match(/^bytes=\d+-$/);
      // Bytes moved: one body plus the part already received, not two bodies.
      expect(report.snapshotBytes).to.be.lessThan(1.5 * (await snapshotRef()).byteLength);
      await expectInSync(store(), gallery, GROUP);
    });
  });

  it('keeps a superseded snapshot downloadable for the retention time, then deletes it', async function () {
    const ref = await snapshotRef();
    const get = () => fetch(ref.url, { headers: { Authorization: `Bearer ${TEST_DEVICE_KEY}` } });
    await store().unbind(DEFAULT_LIBRARY, GROUP, tokens[0]! as FaceToken);
    expect(await ts.server.snapshots.sweep()).to.equal(0);
    expect((await get()).status).to.equal(200);
    const next = await snapshotRef();
    expect(next.url).to.not.equal(ref.url);
    // Once retainMs has passed since it was first seen superseded.
    expect(await ts.server.snapshots.sweep(Date.now() + 61_000)).to.be.greaterThan(0);
    expect((await get()).status).to.equal(404);
    expect((await fetch(next.url, { headers: { Authorization: `Bearer ${TEST_DEVICE_KEY}` } })).status).to.equal(200);
  });

  it('encodes a delta once for all the terminals that ask for it after a push', async function () {
    const galleries = Array.from({ length: 20 }, newGallery);
    const clients = galleries.map((gallery, i) => terminal(gallery, { deviceId: `door-d${i}` }));
    for (const client of clients) await client.syncOnce();
    await store().bind(DEFAULT_LIBRARY, GROUP, tokens[0]! as FaceToken, { userId: 'back' });
    await store().unbind(DEFAULT_LIBRARY, GROUP, tokens[1]! as FaceToken);
    const before = ts.server.syncBodies.stats();
    const reports = await Promise.all(clients.map((client) => client.syncOnce()));
    await Promise.all(clients.map((client) => client.close()));
    const after = ts.server.syncBodies.stats();
    expect(reports.every((report) => report.groups[0]!.kind === SyncKind.Delta)).to.equal(true);
    expect(after.misses - before.misses).to.equal(1);
    expect(after.hits - before.hits).to.equal(19);
    for (const gallery of galleries.slice(0, 3)) await expectInSync(store(), gallery, GROUP);
  });

  it('sends a delta whose net effect is nothing as an empty DELTA with a valid trailer', async function () {
    await store().unbind(DEFAULT_LIBRARY, GROUP, tokens[3]! as FaceToken);
    const clients = [0, 1, 2].map((i) => terminal(newGallery(), { deviceId: `door-empty-${i}` }));
    for (const client of clients) await client.syncOnce();
    // Bound and unbound again: the version moves on, the net effect is empty.
    await store().bind(DEFAULT_LIBRARY, GROUP, tokens[3]! as FaceToken);
    await store().unbind(DEFAULT_LIBRARY, GROUP, tokens[3]! as FaceToken);
    // The second and third terminal get the cached empty body.
    for (const client of clients) {
      const report = await client.syncOnce();
      expect(report.groups[0]).to.include({ kind: SyncKind.Delta, upserted: 0, removed: 0 });
      await expectInSync(store(), client.gallery, GROUP);
      await client.close();
    }
  });

  it('sends a small response whole with Content-Length, and streams one above 64 KiB', async function () {
    const annex = 'annex' as GroupName;
    await store().createGroup(DEFAULT_LIBRARY, annex);
    // Below the snapshot threshold: a full copy inline, 49 float32 features of 2 KiB.
    for (const token of tokens.slice(0, THRESHOLD - 1)) await store().bind(DEFAULT_LIBRARY, annex, token as FaceToken);
    const framing: Array<{ length: string | null; encoding: string | null }> = [];
    const spy: FetchLike = async (url, init) => {
      const res = await fetch(url, init as RequestInit);
      if (url.endsWith('/api/service/sync/v1')) framing.push({ length: res.headers.get('content-length'), encoding: res.headers.get('transfer-encoding') });
      return res;
    };
    const gallery = new TerminalGallery({ groups: [annex], featureEncoding: 'float32' });
    const client = new TerminalClient({ baseUrl: ts.url, key: TEST_DEVICE_KEY, deviceId: 'door-annex', groups: [annex], gallery, fetch: spy, featureEncoding: 'float32' });
    expect((await client.syncOnce()).groups[0]!.kind).to.equal(SyncKind.Reset); // a new terminal has no model yet
    await expectInSync(store(), gallery, annex);
    expect((await client.syncOnce()).groups[0]!.kind).to.equal(SyncKind.Unchanged);
    await client.close();
    expect(framing[0]).to.deep.equal({ length: null, encoding: 'chunked' });
    expect(framing[1]!.encoding).to.equal(null);
    expect(Number(framing[1]!.length)).to.be.within(1, 1024);
  });

  it('reports snapshot and cache counters in /metrics', async function () {
    const res = await fetch(`${ts.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const text = await res.text();
    expect(text).to.match(/^sync_snapshot_builds_total [1-9]/m);
    expect(text).to.match(/^sync_body_cache_hits_total [1-9]/m);
    expect(text).to.match(/^push_connections 0$/m);
  });
});
