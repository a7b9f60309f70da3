// The push channel (protocol §12) against a real server on port 0: upgrade
// auth, hello, coalesced notices, hostile frames, heartbeat, supersede, the
// reference TerminalClient, and 1,000 concurrent terminals.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import {
  CloseCode,
  decodePushFrame,
  encodePushFrame,
  MAX_GROUPS_PER_REQUEST,
  MAX_PUSH_FRAME_BYTES,
  PushFrameType,
  PUSH_PATH,
  TerminalClient,
  type GroupVersion,
  type PushMessage,
  type ServerHello,
  type WebSocketLike,
} from '../../device-protocol/index.js';
import { FaceServer } from '../../server/app.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import type { NoticeFlushEvent, NoticeSentEvent, PushHubOptions } from '../../server/push/index.js';
import type { FaceStore } from '../../storage/store.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { startTestServer, testConfig, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const DEVICE_AUTH = { authorization: `Bearer ${TEST_DEVICE_KEY}` };

interface Closed {
  code: number;
  reason: string;
}

/** A raw push-channel peer: decodes every message into a queue the test reads in order. */
class PushPeer {
  readonly messages: PushMessage[] = [];
  readonly closed: Promise<Closed>;
  #read = 0;
  #wake: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer) => {
      this.messages.push(decodePushFrame(data)!);
      this.#wake?.();
    });
    void this.closed.then(() => this.#wake?.());
  }

  static open(url: string, headers: Record<string, string> = DEVICE_AUTH, options: WebSocket.ClientOptions = {}): Promise<PushPeer> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + PUSH_PATH, { headers, ...options });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new PushPeer(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Opens, sends a ClientHello and returns the ServerHello. */
  static async connect(url: string, deviceId: string, groups: string[], headers?: Record<string, string>): Promise<[PushPeer, ServerHello]> {
    const peer = await PushPeer.open(url, headers);
    peer.hello(deviceId, groups);
    const message = await peer.next();
    expect(message.type).to.equal(PushFrameType.ServerHello);
    return [peer, (message as Extract<PushMessage, { type: 2 }>).hello];
  }

  hello(deviceId: string, groups: string[], protocolVersion = 1): void {
    const held = groups.map((groupName) => ({ groupName, groupId: 0, version: 0 }));
    this.ws.send(encodePushFrame({ type: PushFrameType.ClientHello, hello: { protocolVersion, deviceId, groups: held } }));
  }

  /** The next unread message; rejects on timeout or when the socket closes first. */
  async next(timeoutMs = 5000): Promise<PushMessage> {
    const deadline = Date.now() + timeoutMs;
    let closed = false;
    void this.closed.then(() => (closed = true));
    while (this.#read >= this.messages.length) {
      if (closed) throw new Error('socket closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
      await Promise.resolve();
    }
    return this.messages[this.#read++]!;
  }

  async nextNotice(timeoutMs = 5000): Promise<GroupVersion[]> {
    const message = await this.next(timeoutMs);
    expect(message.type, 'expected a VersionNotice').to.equal(PushFrameType.Notice);
    return (message as Extract<PushMessage, { type: 3 }>).groups;
  }

  /** Messages received but not read yet. */
  get unread(): number {
    return this.messages.length - this.#read;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** The HTTP status an upgrade request gets (101 when the handshake succeeds). */
function upgradeStatus(url: string, path: string, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const group = (name: string) => name as GroupName;

describe('push channel', function () {
  let engine: FaceEngine;
  let ts: TestServer;
  let store: FaceStore;
  let faces: FaceToken[];
  const peers: PushPeer[] = [];

  async function connect(deviceId: string, groups: string[], headers?: Record<string, string>) {
    const [peer, hello] = await PushPeer.connect(ts.url, deviceId, groups, headers);
    peers.push(peer);
    return [peer, hello] as const;
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    store = ts.server.store;
    faces = (await addSyntheticFaces(store, 60, engine.searchModel)).map((f) => f.faceToken);
  });

  afterEach(function () {
    for (const peer of peers.splice(0)) peer.close();
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  describe('upgrade', function () {
    it('answers 401 before the handshake without a key and with a wrong key', async function () {
      expect(await upgradeStatus(ts.url, PUSH_PATH, {})).to.equal(401);
      expect(await upgradeStatus(ts.url, PUSH_PATH, { authorization: 'Bearer wrong-key-wrong-key' })).to.equal(401);
      expect(await upgradeStatus(ts.url, PUSH_PATH, { 'x-api-key': 'wrong-key-wrong-key' })).to.equal(401);
    });

    it('accepts the device key and the admin key', async function () {
      expect(await upgradeStatus(ts.url, PUSH_PATH, DEVICE_AUTH)).to.equal(101);
      expect(await upgradeStatus(ts.url, PUSH_PATH, { authorization: `Bearer ${TEST_ADMIN_KEY}` })).to.equal(101);
      expect(await upgradeStatus(ts.url, PUSH_PATH, { 'x-api-key': TEST_DEVICE_KEY })).to.equal(101);
    });

    it('answers 404 for other upgrade paths, even with a key', async function () {
      expect(await upgradeStatus(ts.url, '/api/service/push/v2', DEVICE_AUTH)).to.equal(404);
      expect(await upgradeStatus(ts.url, '/', DEVICE_AUTH)).to.equal(404);
    });

    it('keeps serving HTTP next to the WebSocket endpoint', async function () {
      const res = await new FacePassClient(ts.url, null).get('/api/version/v1');
      expect(res.status).to.equal(200);
    });
  });

  describe('hello', function () {
    it('answers at once with the current id/version of each named group, 0/0 for unknown ones', async function () {
      await store.createGroup(DEFAULT_LIBRARY, group('hello_a'));
      await store.bind(DEFAULT_LIBRARY, group('hello_a'), faces[0]!);
      const current = (await store.getGroup(DEFAULT_LIBRARY, group('hello_a')))!;
      const started = performance.now();
      const [, hello] = await connect('hello-1', ['hello_a', 'hello_unknown']);
      expect(performance.now() - started).to.be.below(1000);
      expect(hello.protocolVersion).to.equal(1);
      expect(hello.searchModel).to.equal(engine.searchModel);
      expect(hello.serverTimeMs).to.be.within(Date.now() - 5000, Date.now() + 1000);
      expect(hello.groups).to.deep.equal([
        { groupName: 'hello_a', groupId: current.groupId, version: current.version },
        { groupName: 'hello_unknown', groupId: 0, version: 0 },
      ]);
      expect(current.version).to.equal(2);
    });

    it('treats an absent protocol_version as 1 and answers a higher one with 1', async function () {
      for (const requested of [0, 7]) {
        const peer = await PushPeer.open(ts.url);
        peers.push(peer);
        peer.hello(`hello-v${requested}`, [], requested);
        const message = await peer.next();
        expect(message.type).to.equal(PushFrameType.ServerHello);
        expect((message as Extract<PushMessage, { type: 2 }>).hello.protocolVersion).to.equal(1);
      }
    });
  });

  describe('notices', function () {
    it('arrive after create, bind, unbind and delete of a held group, with its id and version', async function () {
      const [peer] = await connect('notice-1', ['notes_a', 'notes_b']);
      const created = await store.createGroup(DEFAULT_LIBRARY, group('notes_a'));
      expect(await peer.nextNotice()).to.deep.equal([{ groupName: 'notes_a', groupId: created.group.groupId, version: created.change.version }]);

      const bound = (await store.bind(DEFAULT_LIBRARY, group('notes_a'), faces[1]!))!;
      expect(await peer.nextNotice()).to.deep.equal([{ groupName: 'notes_a', groupId: created.group.groupId, version: bound.change.version }]);

      const unbound = await store.unbind(DEFAULT_LIBRARY, group('notes_a'), faces[1]!);
      expect(await peer.nextNotice()).to.deep.equal([{ groupName: 'notes_a', groupId: created.group.groupId, version: unbound.change.version }]);

      // §12: a deleted group is reported with the deleted incarnation's id and its final version.
      const deleted = await store.deleteGroup(DEFAULT_LIBRARY, group('notes_a'));
      expect(deleted.change.version).to.equal(unbound.change.version + 1);
      expect(await peer.nextNotice()).to.deep.equal([{ groupName: 'notes_a', groupId: created.group.groupId, version: deleted.change.version }]);

      // Re-created under the same name: a new id, the version continues.
      const again = await store.createGroup(DEFAULT_LIBRARY, group('notes_a'));
      expect(again.group.groupId).to.not.equal(created.group.groupId);
      expect(await peer.nextNotice()).to.deep.equal([{ groupName: 'notes_a', groupId: again.group.groupId, version: again.change.version }]);
    });

    it('arrive for changes made through the FacePass HTTP API', async function () {
      const [peer] = await connect('notice-http', ['http_grp']);
      const admin = new FacePassClient(ts.url);
      expect((await admin.post('/api/group/v1/create', { group_name: 'http_grp' })).code).to.equal(0);
      const [afterCreate] = await peer.nextNotice();
      expect((await admin.post('/api/group/v1/bind', { group_name: 'http_grp', face_token: faces[2] })).code).to.equal(0);
      const [afterBind] = await peer.nextNotice();
      expect(afterBind!.version).to.equal(afterCreate!.version + 1);
      expect(afterBind!.groupId).to.equal(afterCreate!.groupId);
    });

    it('do not arrive for groups the connection does not hold', async function () {
      const [peer] = await connect('notice-2', ['only_mine']);
      await store.createGroup(DEFAULT_LIBRARY, group('not_mine'));
      await store.bind(DEFAULT_LIBRARY, group('not_mine'), faces[3]!);
      // A change of the held group afterwards: the first notice must be about it.
      await store.createGroup(DEFAULT_LIBRARY, group('only_mine'));
      const notice = await peer.nextNotice();
      expect(notice.map((g) => g.groupName)).to.deep.equal(['only_mine']);
      await sleep(100);
      expect(peer.unread).to.equal(0);
    });

    it('coalesce a burst of 50 binds: latest version last, never more notices than changes', async function () {
      await store.createGroup(DEFAULT_LIBRARY, group('burst_grp'));
      const [peer, hello] = await connect('notice-burst', ['burst_grp']);
      const sent: NoticeSentEvent[] = [];
      const off = ts.server.push.on('notice-sent', (e) => {
        if (e.deviceId === 'notice-burst') sent.push(e);
      });
      try {
        await Promise.all(faces.slice(0, 50).map((token) => store.bind(DEFAULT_LIBRARY, group('burst_grp'), token)));
        const final = (await store.getGroup(DEFAULT_LIBRARY, group('burst_grp')))!;
        expect(final.version).to.equal(hello.groups[0]!.version + 50);
        const versions: number[] = [];
        while (versions.at(-1) !== final.version) {
          const notice = await peer.nextNotice();
          expect(notice).to.have.length(1);
          expect(notice[0]!.groupId).to.equal(final.groupId);
          versions.push(notice[0]!.version);
        }
        await sleep(100);
        expect(peer.unread, 'nothing after the final version').to.equal(0);
        expect(versions.length).to.be.within(1, 49);
        expect([...versions].sort((a, b) => a - b), 'increasing').to.deep.equal(versions);
        expect(sent.reduce((n, e) => n + e.changes, 0)).to.equal(50);
        console.log(`      50 binds -> ${versions.length} notice(s)`);
      } finally {
        off();
      }
    });

    it('report a commit\'s fan-out as one flush event with one notice per terminal holding the group', async function () {
      await store.createGroup(DEFAULT_LIBRARY, group('flush_grp'));
      const held = await Promise.all(['flush-1', 'flush-2', 'flush-3'].map((id) => connect(id, ['flush_grp'])));
      const flushes: NoticeFlushEvent[] = [];
      const off = ts.server.push.on('flush', (e) => void flushes.push(e));
      try {
        const committed = (await store.bind(DEFAULT_LIBRARY, group('flush_grp'), faces[5]!))!;
        for (const [peer] of held) expect((await peer.nextNotice())[0]!.version).to.equal(committed.change.version);
        expect(flushes).to.have.length(1);
        const [flush] = flushes;
        expect(flush!.notices).to.equal(3);
        expect(flush!.firstObservedAt).to.be.at.most(flush!.startedAt);
        expect(flush!.startedAt).to.be.at.most(flush!.endedAt);
      } finally {
        off();
      }
    });

    it('keep their place among ws\'s own frames on the socket: ServerHello, notices, pong, then PushError and the close', async function () {
      // Notices are framed once and written to the socket directly (wire-frame.ts); ws
      // writes ServerHello, pings and the close itself. A ws client checks every frame.
      await store.createGroup(DEFAULT_LIBRARY, group('order_grp'));
      const [peer] = await connect('notice-order', ['order_grp']);
      const pongs: number[] = [];
      peer.ws.on('pong', () => pongs.push(peer.messages.length));
      const first = (await store.bind(DEFAULT_LIBRARY, group('order_grp'), faces[4]!))!;
      peer.ws.ping();
      expect(await peer.nextNotice()).to.deep.equal([{ groupName: 'order_grp', groupId: first.group.groupId, version: first.change.version }]);
      await sleep(40); // past the window: the next change goes out at once
      const second = (await store.unbind(DEFAULT_LIBRARY, group('order_grp'), faces[4]!))!;
      expect((await peer.nextNotice())[0]!.version).to.equal(second.change.version);
      ts.server.push.disconnectDevice('notice-order');
      const error = await peer.next();
      expect(error).to.include({ type: PushFrameType.Error, code: CloseCode.Unauthorized });
      expect((await peer.closed).code).to.equal(CloseCode.Unauthorized);
      expect(pongs, 'the pong arrived whole, between the frames').to.have.length(1);
      expect(peer.messages.map((m) => m.type)).to.deep.equal([PushFrameType.ServerHello, PushFrameType.Notice, PushFrameType.Notice, PushFrameType.Error]);
    });

    it('count connections and notices', function () {
      const stats = ts.server.push.stats();
      expect(stats.noticesSent).to.be.greaterThan(0);
      expect(stats.commits).to.be.greaterThan(0);
      expect(stats.accepted).to.be.greaterThan(0);
      expect(stats.rejected).to.be.greaterThan(0);
    });
  });

  describe('untrusted frames', function () {
    async function expectClosedWith(peer: PushPeer, code: number): Promise<void> {
      const closed = await Promise.race([peer.closed, sleep(5000).then(() => null)]);
      expect(closed, 'socket closed').to.not.equal(null);
      expect(closed!.code).to.equal(code);
    }

    async function stillServes(): Promise<void> {
      const [, hello] = await connect(`after-${Math.random()}`, ['hello_a']);
      expect(hello.groups[0]!.groupId).to.be.greaterThan(0);
    }

    it('answers a message over MAX_PUSH_FRAME_BYTES with PushError and 4413, before buffering it', async function () {
      for (const size of [MAX_PUSH_FRAME_BYTES + 1, 16 * MAX_PUSH_FRAME_BYTES]) {
        const peer = await PushPeer.open(ts.url);
        peers.push(peer);
        peer.ws.send(Buffer.alloc(size), { binary: true });
        await expectClosedWith(peer, CloseCode.FrameTooLarge);
        expect(peer.messages.map((m) => m.type), String(size)).to.deep.equal([PushFrameType.Error]);
        expect(peer.messages[0]).to.include({ code: CloseCode.FrameTooLarge });
      }
      // Fragments count together: two halves over the limit are one message over it.
      const peer = await PushPeer.open(ts.url);
      peers.push(peer);
      const half = Buffer.alloc(MAX_PUSH_FRAME_BYTES / 2 + 1);
      peer.ws.send(half, { binary: true, fin: false });
      peer.ws.send(half, { binary: true, fin: true });
      await expectClosedWith(peer, CloseCode.FrameTooLarge);
      await stillServes();
    });

    it('accepts a large valid hello (2,000 groups)', async function () {
      const peer = await PushPeer.open(ts.url);
      peers.push(peer);
      const names = Array.from({ length: 2000 }, (_, i) => `g${String(i).padStart(6, '0')}`);
      peer.hello('big-hello', names);
      const message = await peer.next();
      expect(message.type).to.equal(PushFrameType.ServerHello);
      expect((message as Extract<PushMessage, { type: 2 }>).hello.groups).to.have.length(2000);
    });

    it('closes with 4400 for a text message, with a PushError first', async function () {
      const peer = await PushPeer.open(ts.url);
      peers.push(peer);
      peer.ws.send('hello?');
      await expectClosedWith(peer, CloseCode.BadFrame);
      expect(peer.messages).to.deep.equal([{ type: PushFrameType.Error, code: CloseCode.BadFrame, reason: 'push messages must be binary' }]);
      await stillServes();
    });

    it('closes with 4400 for undecodable binary', async function () {
      for (const garbage of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x50, 0x01]), Buffer.alloc(0)]) {
        const peer = await PushPeer.open(ts.url);
        peers.push(peer);
        peer.ws.send(garbage, { binary: true });
        await expectClosedWith(peer, CloseCode.BadFrame);
      }
      await stillServes();
    });

    it('closes with 4400 for frames out of order: a notice from the terminal, a second hello', async function () {
      const first = await PushPeer.open(ts.url);
      peers.push(first);
      first.ws.send(encodePushFrame({ type: PushFrameType.Notice, groups: [] }));
      await expectClosedWith(first, CloseCode.BadFrame);

      const [second] = await connect('twice', ['hello_a']);
      second.hello('twice', ['hello_a']);
      await expectClosedWith(second, CloseCode.BadFrame);
      await stillServes();
    });

    it('applies the one-member rule of §3 and checks wire types: two members, a repeated member, a varint member are 4400', async function () {
      const hello = encodePushFrame({ type: PushFrameType.ClientHello, hello: { protocolVersion: 1, deviceId: 'two', groups: [] } });
      const notice = encodePushFrame({ type: PushFrameType.Notice, groups: [] });
      const cases: Record<string, Buffer> = {
        'hello + notice': Buffer.concat([hello, notice]),
        'hello twice': Buffer.concat([hello, hello]),
        'hello with trailing byte': Buffer.concat([hello, Buffer.from([0x00])]),
        'client_hello as varint (wire type 0)': Buffer.from([0x08, 0x01]),
        'client_hello as fixed32 (wire type 5)': Buffer.from([0x0d, 1, 2, 3, 4]),
        'length past the end': Buffer.from([0x0a, 0x05, 0x08]),
      };
      for (const [name, bytes] of Object.entries(cases)) {
        const peer = await PushPeer.open(ts.url);
        peers.push(peer);
        peer.ws.send(bytes, { binary: true });
        await expectClosedWith(peer, CloseCode.BadFrame);
        expect(peer.messages.map((m) => m.type), name).to.deep.equal([PushFrameType.Error]);
      }
      await stillServes();
    });

    it('closes a hello over the bounds of §15 with 4400: an 8,192-character group name, too many groups, a bad device id', async function () {
      const cases: Record<string, [string, string[]]> = {
        'long name': ['long-name', ['g'.repeat(8192)]],
        'too many groups': ['many', Array.from({ length: MAX_GROUPS_PER_REQUEST + 1 }, (_, i) => `g${i}`)],
        'device id with a space': ['door 1', ['hello_a']],
      };
      for (const [name, [deviceId, groups]] of Object.entries(cases)) {
        const peer = await PushPeer.open(ts.url);
        peers.push(peer);
        peer.hello(deviceId, groups);
        await expectClosedWith(peer, CloseCode.BadFrame);
        expect(peer.messages.map((m) => m.type), name).to.deep.equal([PushFrameType.Error]);
      }
      await stillServes();
    });

    it('ignores an unknown ancillary frame type (>= 64)', async function () {
      const peer = await PushPeer.open(ts.url);
      peers.push(peer);
      // Field 64, wire type 2 (length-delimited), empty: tag varint 0x82 0x04.
      peer.ws.send(Buffer.from([0x82, 0x04, 0x00]), { binary: true });
      peer.hello('ancillary', []);
      expect((await peer.next()).type).to.equal(PushFrameType.ServerHello);
    });

    it('replaces an older connection of the same device id (4409)', async function () {
      const [older] = await connect('same-device', ['hello_a']);
      const [newer, hello] = await connect('same-device', ['hello_a']);
      expect(hello.groups).to.have.length(1);
      await expectClosedWith(older, CloseCode.Superseded);
      expect(older.messages.at(-1)).to.include({ type: PushFrameType.Error, code: CloseCode.Superseded });
      expect(newer.ws.readyState).to.equal(WebSocket.OPEN);
      expect(ts.server.push.stats().superseded).to.be.greaterThan(0);
    });
  });

  describe('reference TerminalClient', function () {
    it('connects with the device key, receives notices for its groups and syncs after them', async function () {
      await store.createGroup(DEFAULT_LIBRARY, group('tc_group'));
      const client = new TerminalClient({
        baseUrl: ts.url,
        key: TEST_DEVICE_KEY,
        deviceId: 'terminal-ts-1',
        groups: ['tc_group'],
        createWebSocket: (url, init) => new WebSocket(url, { headers: init.headers }) as unknown as WebSocketLike,
        backoff: { initialMs: 50, maxMs: 1000 },
      });
      // The client pulls a sync after connecting and after each stale notice;
      // the last step checks that the notice led to the face arriving.
      let synced: () => void = () => {};
      client.on('synced', () => synced());
      const connected = new Promise<ServerHello>((resolve) => client.on('connected', (e) => resolve(e.hello)));
      const notifications: GroupVersion[][] = [];
      let notified: () => void = () => {};
      client.on('notification', (e) => {
        notifications.push(e.groups);
        notified();
      });
      try {
        client.start();
        const hello = await connected;
        const current = (await store.getGroup(DEFAULT_LIBRARY, group('tc_group')))!;
        expect(hello.groups).to.deep.equal([{ groupName: 'tc_group', groupId: current.groupId, version: current.version }]);
        const got = new Promise<void>((resolve) => (notified = resolve));
        const bound = (await store.bind(DEFAULT_LIBRARY, group('tc_group'), faces[4]!))!;
        await Promise.race([got, sleep(5000)]);
        expect(notifications.flat()).to.deep.include({ groupName: 'tc_group', groupId: current.groupId, version: bound.change.version });
        const deadline = Date.now() + 5000;
        while (client.gallery.group('tc_group')?.version !== bound.change.version && Date.now() < deadline) {
          await Promise.race([new Promise<void>((resolve) => (synced = resolve)), sleep(200)]);
        }
        const local = client.gallery.group('tc_group')!;
        expect(local.version, 'synced after the notice').to.equal(bound.change.version);
        expect([...local.faces.keys()]).to.deep.equal([faces[4]]);
      } finally {
        await client.close();
      }
    });
  });

  describe('1,000 terminals', function () {
    it('holds 1,000 concurrent connections and delivers one notice to each', async function () {
      this.timeout(30_000);
      const count = 1000;
      await store.createGroup(DEFAULT_LIBRARY, group('many_grp'));
      const opened = performance.now();
      const crowd: PushPeer[] = [];
      // In waves of 100, so the listen backlog never overflows.
      for (let wave = 0; wave < count; wave += 100) {
        const batch = await Promise.all(
          Array.from({ length: 100 }, (_, i) => PushPeer.connect(ts.url, `crowd-${wave + i}`, ['many_grp']).then(([peer]) => peer)),
        );
        crowd.push(...batch);
      }
      peers.push(...crowd);
      const connectMs = performance.now() - opened;
      expect(ts.server.push.stats().ready).to.be.at.least(count);

      const latencies: number[] = [];
      const off = ts.server.push.on('notice-sent', (e) => latencies.push(e.sentAt - e.firstObservedAt));
      try {
        const before = performance.now();
        const bound = (await store.bind(DEFAULT_LIBRARY, group('many_grp'), faces[5]!))!;
        const committed = performance.now();
        const notices = await Promise.all(crowd.map((peer) => peer.nextNotice(10_000)));
        const allReceived = performance.now();
        for (const notice of notices) expect(notice).to.deep.equal([{ groupName: 'many_grp', groupId: bound.group.groupId, version: bound.change.version }]);
        expect(latencies).to.have.length(count);
        latencies.sort((a, b) => a - b);
        console.log(
          `      ${count} connect+hello: ${connectMs.toFixed(0)} ms; bind commit: ${(committed - before).toFixed(1)} ms; ` +
            `commit -> all ${count} received: ${(allReceived - committed).toFixed(1)} ms; ` +
            `server observe -> send p50 ${latencies[count >> 1]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms ` +
            `(first change at once; coalescing window ${ts.server.push.options.coalesceMs} ms)`,
        );
        expect(allReceived - committed).to.be.below(10_000);
      } finally {
        off();
      }
    });
  });
});

describe('push channel liveness and shutdown', function () {
  let engine: FaceEngine;
  let server: FaceServer;
  let dataDir: string;

  async function start(push: Partial<PushHubOptions>): Promise<void> {
    server = await FaceServer.start({ config: testConfig(dataDir), engine, push });
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    dataDir = mkdtempSync(join(tmpdir(), 'face-push-test-'));
  });

  afterEach(async function () {
    await server?.close();
  });

  after(async function () {
    await engine?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the heartbeat drops a client that stops answering pings, and keeps one that answers', async function () {
    await start({ heartbeatMs: 100 });
    const silent = await PushPeer.open(server.url, DEVICE_AUTH, { autoPong: false });
    const healthy = await PushPeer.open(server.url);
    silent.hello('silent', []);
    healthy.hello('healthy', []);
    const closed = await Promise.race([silent.closed, sleep(3000).then(() => null)]);
    expect(closed, 'silent client dropped').to.not.equal(null);
    expect(closed!.code).to.equal(1006); // terminated, no closing handshake
    expect(healthy.ws.readyState).to.equal(WebSocket.OPEN);
    expect(server.push.stats().heartbeatTimeouts).to.equal(1);
    healthy.close();
  });

  it('closes a connection that sends no ClientHello in time (4400)', async function () {
    await start({ helloTimeoutMs: 150 });
    const started = performance.now();
    const idle = await PushPeer.open(server.url);
    const closed = await Promise.race([idle.closed, sleep(3000).then(() => null)]);
    expect(closed!.code).to.equal(CloseCode.BadFrame);
    expect(performance.now() - started).to.be.within(100, 2000);
    expect(server.push.stats().helloTimeouts).to.equal(1);
  });

  it('close() sends 1001 to every terminal and the server shuts down promptly', async function () {
    await start({});
    const url = server.url;
    const open = await Promise.all(Array.from({ length: 20 }, () => PushPeer.open(url)));
    open[0]!.hello('shutdown-0', ['x_group']);
    await open[0]!.next();
    const started = performance.now();
    await server.close();
    const elapsed = performance.now() - started;
    for (const peer of open) expect((await peer.closed).code).to.equal(CloseCode.GoingAway);
    expect(elapsed).to.be.below(2000);
    expect(await upgradeStatusOrError(url)).to.equal('refused');
  });
});

/** After shutdown nothing listens: the connection is refused. */
async function upgradeStatusOrError(url: string): Promise<number | 'refused'> {
  try {
    return await upgradeStatus(url, PUSH_PATH, DEVICE_AUTH);
  } catch {
    return 'refused';
  }
}
