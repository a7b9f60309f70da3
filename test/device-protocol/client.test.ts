import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  CloseCode,
  PushFrameType,
  SyncErrorCode,
  SyncKind,
  TerminalClient,
  TerminalGallery,
  type RequestInitLike,
  type ResponseLike,
  type TerminalClientEvents,
  type TerminalClientOptions,
} from '../../device-protocol/index.js';
import { face, FakeTimers, FakeWebSocket, MiniSyncServer, serverFetch, settle, until } from './helpers.js';

interface Harness {
  server: MiniSyncServer;
  client: TerminalClient;
  timers: FakeTimers;
  sockets: FakeWebSocket[];
  requests: Array<{ url: string; init: RequestInitLike }>;
  events: { [K in keyof TerminalClientEvents]: TerminalClientEvents[K][] };
  /** Sync POSTs so far. */
  syncs(): number;
  socket(): FakeWebSocket;
}

function harness(options: Partial<TerminalClientOptions> & { gateFetch?: () => Promise<void> } = {}): Harness {
  const server = new MiniSyncServer();
  server.createGroup('staff');
  server.bind('staff', face('a'));
  const timers = new FakeTimers();
  const sockets: FakeWebSocket[] = [];
  const { fetch: inner, requests } = serverFetch(server);
  const fetch = async (url: string, init: RequestInitLike): Promise<ResponseLike> => {
    await options.gateFetch?.();
    return inner(url, init);
  };
  const client = new TerminalClient({
    baseUrl: 'http://server.test/',
    key: 'secret',
    deviceId: 'door-1',
    groups: ['staff'],
    gallery: new TerminalGallery({ searchModel: 'model-2' }),
    fetch,
    createWebSocket: (url, init) => {
      const ws = new FakeWebSocket(url, init.headers);
      sockets.push(ws);
      return ws;
    },
    backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
    timers,
    now: () => timers.now,
    ...options,
  });
  const events = { synced: [], error: [], notification: [], connected: [], disconnected: [] } as Harness['events'];
  for (const type of Object.keys(events) as (keyof TerminalClientEvents)[]) {
    client.on(type, (e) => (events[type] as unknown[]).push(e));
  }
  const syncs = () => requests.filter((r) => r.init.method === 'POST').length;
  return { server, client, timers, sockets, requests, events, syncs, socket: () => sockets[sockets.length - 1]! };
}

const hello = (h: Harness, groups = [{ groupName: 'staff', groupId: h.server.groups.get('staff')!.id, version: h.server.groups.get('staff')!.version }]) =>
  h.socket().receive({ type: PushFrameType.ServerHello, hello: { protocolVersion: 1, searchModel: 'model-2', serverTimeMs: 0, groups } });

const notice = (h: Harness) => {
  const g = h.server.groups.get('staff')!;
  h.socket().receive({ type: PushFrameType.Notice, groups: [{ groupName: 'staff', groupId: g.id, version: g.version }] });
};

describe('TerminalClient', () => {
  describe('syncOnce', () => {
    it('posts the spec request with key and device id, and applies the answer', async () => {
      const h = harness();
      const report = await h.client.syncOnce();
      expect(report.groups.map((g) => g.kind)).to.deep.equal([SyncKind.Full]);
      expect([...h.client.gallery.group('staff')!.faces.keys()]).to.deep.equal(['a']);
      const { url, init } = h.requests[0]!;
      expect(url).to.equal('http://server.test/api/service/sync/v1');
      expect(init.headers).to.deep.equal({
        Authorization: 'Bearer secret',
        'X-Device-Id': 'door-1',
        'Content-Type': 'application/json',
        Accept: 'application/x-protobuf',
      });
      expect(JSON.parse(init.body!)).to.deep.equal({
        info: { search_model: 'model-2', version: 'facepass-terminal-ts', feature_encoding: 'float32', protocol_version: 1 },
        groups: [{ group_name: 'staff', local_version: 0 }],
      });
      expect(h.events.synced).to.have.length(1);
      expect(h.events.synced[0]).to.include({ trigger: 'manual' });
    });

    it('works with the global fetch against a real HTTP server (Buffer chunks, snapshot download)', async () => {
      const server = new MiniSyncServer();
      server.createGroup('staff');
      for (let i = 0; i < 30; i++) server.bind('staff', face(`t${i}`, { userInfo: `user ${i}` }));
      server.createGroup('small');
      server.bind('small', face('s'));
      server.snapshotThreshold = 10;
      const http = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const bytes = req.method === 'POST'
            ? server.respond(JSON.parse(Buffer.concat(chunks).toString('utf8')))
            : server.snapshots.get(req.url!)!;
          res.writeHead(200, { 'content-type': 'application/x-protobuf', etag: '"s1"' });
          // Odd-sized writes so frames straddle chunk boundaries.
          for (let i = 0; i < bytes.length; i += 97) res.write(bytes.subarray(i, i + 97));
          res.end();
        });
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = http.address() as AddressInfo;
        const client = new TerminalClient({ baseUrl: `http://127.0.0.1:${port}`, key: 'k', deviceId: 'd', groups: ['staff', 'small'] });
        const report = await client.syncOnce();
        expect(report.groups.map((g) => [g.groupName, g.faceCount, g.viaSnapshot])).to.deep.equal([['staff', 30, true], ['small', 1, false]]);
        expect(client.gallery.group('staff')!.faces.get('t7')!.userInfo).to.equal('user 7');
        await client.close();
      } finally {
        await new Promise((resolve) => http.close(resolve));
      }
    });

    it('reports an HTTP error with the API code, leaving the gallery as it was', async () => {
      const h = harness({
        fetch: async () => new Response('{"code":104001,"message":"ILLEGAL_ARGUMENT: group_name"}', { status: 400 }) as unknown as ResponseLike,
      });
      const state = h.client.gallery.state;
      const error = await h.client.syncOnce().catch((e: unknown) => e);
      expect(error).to.have.property('code', SyncErrorCode.Http);
      expect(error).to.have.deep.property('details', { status: 400, apiCode: 104001, apiMessage: 'ILLEGAL_ARGUMENT: group_name' });
      expect(h.client.gallery.state).to.equal(state);
      expect(h.events.error).to.have.length(1);
    });

    it('refuses a body that is not a protobuf stream', async () => {
      const h = harness({ fetch: async () => new Response('{}', { headers: { 'content-type': 'application/json' } }) as unknown as ResponseLike });
      expect(await h.client.syncOnce().catch((e: unknown) => e)).to.have.property('code', SyncErrorCode.Http);
    });
  });

  describe('push channel', () => {
    it('connects with key and device id, says hello with its groups, and syncs on connect', async () => {
      const h = harness();
      h.client.start();
      const ws = h.socket();
      expect(ws.url).to.equal('ws://server.test/api/service/push/v1');
      expect(ws.headers).to.deep.equal({ Authorization: 'Bearer secret', 'X-Device-Id': 'door-1' });
      ws.open();
      expect(ws.binaryType).to.equal('arraybuffer');
      expect(ws.sent).to.deep.equal([
        { type: PushFrameType.ClientHello, hello: { protocolVersion: 1, deviceId: 'door-1', groups: [{ groupName: 'staff', groupId: 0, version: 0 }] } },
      ]);
      await until(() => h.events.synced.length === 1, 'sync on connect');
      expect(h.events.synced[0]!.trigger).to.equal('connect');
      hello(h);
      expect(h.events.connected).to.have.length(1);
      await settle();
      expect(h.syncs()).to.equal(1); // hello says nothing new
      await h.client.close();
    });

    it('syncs on a notice of a newer version, and not on one it already has', async () => {
      const h = harness();
      h.client.start();
      h.socket().open();
      await until(() => h.events.synced.length === 1, 'first sync');
      hello(h);
      notice(h); // same version as local
      expect(h.events.notification[0]!.stale).to.deep.equal([]);
      h.server.bind('staff', face('b'));
      notice(h);
      expect(h.events.notification[1]!.stale).to.have.length(1);
      await until(() => h.events.synced.length === 2, 'sync after notice');
      expect(h.events.synced[1]!.trigger).to.equal('notification');
      expect(h.events.synced[1]!.report.groups[0]!.kind).to.equal(SyncKind.Delta);
      expect(h.client.gallery.group('staff')!.faces.has('b')).to.equal(true);
      expect(h.syncs()).to.equal(2);
      await h.client.close();
    });

    it('runs at most one sync and queues at most one, however many notices arrive', async () => {
      let release!: () => void;
      let gate = new Promise<void>((r) => (release = r));
      const h = harness({ gateFetch: () => gate });
      h.client.start();
      h.socket().open(); // sync 1 starts, blocked in fetch
      await settle();
      hello(h);
      for (let i = 0; i < 5; i++) {
        h.server.bind('staff', face(`n${i}`));
        notice(h);
      }
      const blocked = gate;
      gate = Promise.resolve();
      release();
      await blocked;
      await until(() => h.events.synced.length === 2, 'both syncs');
      await settle();
      expect(h.syncs()).to.equal(2);
      expect(h.client.gallery.group('staff')!.faces.size).to.equal(6);
      await h.client.close();
    });

    it('reconnects with exponential backoff, reset by the server hello', async () => {
      const h = harness();
      h.client.start();
      h.socket().serverClose(1006);
      h.timers.advance(100);
      h.socket().serverClose(1006);
      h.timers.advance(200);
      h.socket().serverClose(1006);
      expect(h.events.disconnected.map((d) => d.retryInMs)).to.deep.equal([100, 200, 400]);
      h.timers.advance(400);
      expect(h.sockets).to.have.length(4);
      h.socket().open();
      hello(h);
      h.socket().serverClose(1001);
      expect(h.events.disconnected[3]!.retryInMs).to.equal(100);
      await h.client.close();
    });

    it('waits the maximum delay after an authorization failure', async () => {
      const h = harness();
      h.client.start();
      h.socket().receive({ type: PushFrameType.Error, code: CloseCode.Unauthorized, reason: 'bad key' });
      h.socket().serverClose(CloseCode.Unauthorized, 'bad key');
      expect(h.events.disconnected[0]).to.include({ code: 4401, retryInMs: 1000 });
      expect(h.events.error[0]!.error.message).to.match(/4401 bad key/);
      await h.client.close();
    });

    it('closes with 4400 on an undecodable or text message, and 4408 on a version it does not speak', async () => {
      const h = harness();
      h.client.start();
      h.socket().open();
      h.socket().receiveRaw(new Uint8Array([0x0a, 0x05, 0xff]));
      expect(h.socket().closedWith).to.deep.include({ code: CloseCode.BadFrame });
      await settle();
      h.timers.advance(100);
      h.socket().open();
      h.socket().receiveRaw('hello');
      expect(h.socket().closedWith).to.deep.include({ code: CloseCode.BadFrame });
      await settle();
      h.timers.advance(200);
      h.socket().open();
      h.socket().receive({ type: PushFrameType.ServerHello, hello: { protocolVersion: 9, searchModel: 'm', serverTimeMs: 0, groups: [] } });
      expect(h.socket().closedWith).to.deep.include({ code: CloseCode.ProtocolVersionUnsupported });
      await h.client.close();
    });

    it('rejects a notice before the server hello', async () => {
      const h = harness();
      h.client.start();
      h.socket().open();
      notice(h);
      expect(h.socket().closedWith).to.deep.include({ code: CloseCode.BadFrame });
      await h.client.close();
    });
  });

  describe('retries and resyncs', () => {
    it('retries a failed background sync after a backoff delay', async () => {
      let fail = true;
      const h = harness({ gateFetch: async () => { if (fail) throw new Error('ECONNREFUSED'); } });
      h.client.start();
      h.socket().open();
      await until(() => h.events.error.length === 1, 'failed sync');
      expect(h.events.error[0]!.error).to.have.property('code', SyncErrorCode.Network);
      expect(h.timers.delays).to.deep.equal([100]);
      fail = false;
      h.timers.advance(100);
      await until(() => h.events.synced.length === 1, 'retried sync');
      expect(h.events.synced[0]!.trigger).to.equal('retry');
      expect(h.timers.delays).to.deep.equal([]);
      await h.client.close();
    });

    it('follows a digest mismatch with one immediate resync that fetches the full copy', async () => {
      const h = harness();
      h.client.start();
      h.socket().open();
      await until(() => h.events.synced.length === 1, 'first sync');
      // The server's group changes behind a compacted log while the terminal's
      // copy silently lost a face: the count check catches it.
      const g = h.server.groups.get('staff')!;
      h.server.bind('staff', face('b'));
      g.faces.delete('a');
      g.log = g.log.filter((c) => c.token !== 'a');
      hello(h);
      await until(() => h.events.synced.length === 3, 'sync and resync');
      expect(h.events.synced.map((e) => e.trigger)).to.deep.equal(['connect', 'hello', 'resync']);
      expect(h.events.synced[1]!.report.groups[0]!.mismatch).to.equal('face_count');
      expect(h.events.synced[2]!.report.groups[0]!.kind).to.equal(SyncKind.Full);
      expect([...h.client.gallery.group('staff')!.faces.keys()]).to.deep.equal(['b']);
      await h.client.close();
    });
  });

  describe('close', () => {
    it('clears timers, closes the socket and never reconnects', async () => {
      const h = harness();
      h.client.start();
      h.socket().serverClose(1006);
      expect(h.timers.delays).to.have.length(1);
      h.timers.advance(100);
      const ws = h.socket();
      await h.client.close();
      expect(ws.closedWith).to.deep.equal({ code: 1000, reason: 'client closed' });
      expect(h.timers.delays).to.deep.equal([]);
      h.timers.advance(10_000);
      expect(h.sockets).to.have.length(2);
      expect(await h.client.syncOnce().catch((e: unknown) => e)).to.have.property('code', SyncErrorCode.Closed);
    });

    it('aborts a running sync, which then commits nothing', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const h = harness({ gateFetch: () => gate });
      const state = h.client.gallery.state;
      const running = h.client.syncOnce().catch((e: unknown) => e);
      await settle();
      const closing = h.client.close();
      release();
      await closing;
      expect(await running).to.have.property('code', SyncErrorCode.Closed);
      expect(h.client.gallery.state).to.equal(state);
    });
  });
});
