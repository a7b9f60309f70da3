// The console's read endpoints over HTTP (admin key): groups, a group's
// faces a page at a time with filters, one face in detail, terminals with
// their push connection, the server; and who may call them.
import { expect } from 'chai';
import WebSocket from 'ws';
import { createOnnxEngine } from '../../../models/index.js';
import type { FaceEngine } from '../../../models/engine.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName, type LibraryId } from '../../../server/core/ids.js';
import { decodePushFrame, encodePushFrame, PUSH_PATH, PushFrameType } from '../../../device-protocol/index.js';
import { FacePassClient } from '../../helpers/facepass-client.js';
import { enrollablePhoto } from '../../helpers/photos.js';
import { addSyntheticFaces, syntheticFace } from '../../helpers/synthetic-faces.js';
import { startTestServer, TEST_DEVICE_KEY, type TestServer } from '../../helpers/test-server.js';

const BIG = 'console_big' as GroupName;
const ACME = 'acme' as LibraryId;

/** A terminal on the push channel, past its hello. */
async function pushTerminal(url: string, deviceId: string, groups: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + PUSH_PATH, { headers: { authorization: `Bearer ${TEST_DEVICE_KEY}` } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const hello = new Promise<void>((resolve, reject) => {
    ws.once('message', (data: Buffer) => (decodePushFrame(data)?.type === PushFrameType.ServerHello ? resolve() : reject(new Error('expected ServerHello'))));
  });
  ws.send(encodePushFrame({ type: PushFrameType.ClientHello, hello: { protocolVersion: 1, deviceId, groups: groups.map((groupName) => ({ groupName, groupId: 0, version: 0 })) } }));
  await hello;
  return ws;
}

describe('console read API (/api/console/v1)', function () {
  this.timeout(60_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let client: FacePassClient;
  let tokens: FaceToken[];

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    client = new FacePassClient(ts.url);
    const store = ts.server.store;
    tokens = (await addSyntheticFaces(store, 25, engine.searchModel)).map((f) => f.faceToken).sort();
    await store.createGroup(DEFAULT_LIBRARY, BIG);
    for (const [i, token] of tokens.entries()) {
      await store.bind(DEFAULT_LIBRARY, BIG, token, i % 5 === 0 ? { userId: 'alice', userInfo: 'front desk' } : { userId: `u${i}` });
    }
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('lists groups with face count, version and times', async function () {
    const res = await client.get<{ groups: Array<Record<string, unknown>> }>('/api/console/v1/groups');
    expect(res.code, res.message).to.equal(0);
    const big = res.data.groups.find((g) => g.group_name === BIG)!;
    expect(big).to.include({ face_count: 25, version: 26 });
    expect(big.updated_at).to.be.a('number');
  });

  it('pages through a group in token order without repeats, and says when it is done', async function () {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: any = await client.get(`/api/console/v1/group/faces?group_name=${BIG}&limit=10${after ? `&after=${after}` : ''}`);
      expect(res.code, res.message).to.equal(0);
      seen.push(...res.data.faces.map((f: { face_token: string }) => f.face_token));
      after = res.data.next;
      if (after === null) break;
    }
    expect(seen).to.deep.equal(tokens);
  });

  it('filters by user id (with user info) and by face token', async function () {
    const byUser: any = await client.get(`/api/console/v1/group/faces?group_name=${BIG}&user_id=alice`);
    expect(byUser.data.faces.map((f: any) => f.face_token)).to.deep.equal(tokens.filter((_, i) => i % 5 === 0));
    expect(byUser.data.faces[0]).to.include({ user_id: 'alice', user_info: 'front desk' });
    expect(byUser.data.next).to.equal(null);
    const byToken: any = await client.get(`/api/console/v1/group/faces?group_name=${BIG}&face_token=${tokens[3]}`);
    expect(byToken.data.faces).to.have.length(1);
    expect(byToken.data.faces[0]).to.include({ face_token: tokens[3], user_id: 'u3' });
  });

  it('lists libraries, and the groups, faces and users of another library', async function () {
    const store = ts.server.store;
    // Faces belong to one library: these three are acme's own.
    const acme: FaceToken[] = [];
    for (let i = 0; i < 3; i++) {
      const face = { ...syntheticFace(engine.searchModel), library: ACME };
      await store.addImage({ imageId: face.imageId, mime: 'image/png', bytes: new Uint8Array(16), width: 200, height: 200, createdAt: Date.now() }, face);
      acme.push(face.faceToken);
    }
    acme.sort();
    await store.createGroup(ACME, 'staff' as GroupName);
    await store.bind(ACME, 'staff' as GroupName, acme[0]!, { userId: 'carol', userInfo: 'night shift' });
    await store.bind(ACME, 'staff' as GroupName, acme[1]!, { userId: 'carol' });
    await store.bind(ACME, 'staff' as GroupName, acme[2]!, { userId: 'dave' });
    const libraries: any = await client.get('/api/console/v1/libraries');
    expect(libraries.data.libraries).to.include.members(['default', 'acme']);
    const groups: any = await client.get('/api/console/v1/groups?library=acme');
    expect(groups.data.groups.map((g: any) => [g.group_name, g.face_count])).to.deep.equal([['staff', 3]]);
    const faces: any = await client.get('/api/console/v1/group/faces?library=acme&group_name=staff&user_id=carol');
    expect(faces.data.faces.map((f: any) => f.face_token)).to.deep.equal([acme[0], acme[1]]);
    const users: any = await client.get('/api/console/v1/group/users?library=acme&group_name=staff');
    expect(users.data.users).to.deep.equal([
      { user_id: 'carol', user_info: 'night shift', face_count: 2 },
      { user_id: 'dave', user_info: '', face_count: 1 },
    ]);
    const second: any = await client.get('/api/console/v1/group/users?library=acme&group_name=staff&offset=1&limit=1');
    expect(second.data.users.map((u: any) => u.user_id)).to.deep.equal(['dave']);
    // The same group name in the default library is another group.
    const elsewhere = await client.get('/api/console/v1/group/users?group_name=staff');
    expect(elsewhere.code).to.equal(104301);
  });

  it('answers bad arguments and unknown groups in the FacePass envelope', async function () {
    const cases: Array<[string, number, string]> = [
      ['/api/console/v1/group/faces', 104002, 'MISSING_ARGUMENT: group_name'],
      [`/api/console/v1/group/faces?group_name=${BIG}&limit=0`, 104001, 'ILLEGAL_ARGUMENT: limit'],
      [`/api/console/v1/group/faces?group_name=${BIG}&limit=100000`, 104001, 'ILLEGAL_ARGUMENT: limit'],
      [`/api/console/v1/group/faces?group_name=${BIG}&after=short`, 104001, 'ILLEGAL_ARGUMENT: after'],
      ['/api/console/v1/group/faces?group_name=no_such_group', 104301, 'GROUP_NAME_NOT_EXIST'],
      ['/api/console/v1/face?face_token=AAAAAAAAAAAAAAAAAAAAAAAA', 104202, 'FACE_TOKEN_NOT_EXIST'],
      ['/api/console/v1/face', 104002, 'MISSING_ARGUMENT: face_token'],
      ['/api/console/v1/groups?library=no-dashes', 104001, 'ILLEGAL_ARGUMENT: library'],
      [`/api/console/v1/group/users?group_name=${BIG}&offset=-1`, 104001, 'ILLEGAL_ARGUMENT: offset'],
      ['/api/console/v1/group/users', 104002, 'MISSING_ARGUMENT: group_name'],
    ];
    for (const [path, code, message] of cases) {
      const res = await client.get(path);
      expect([res.status, res.code, res.message], path).to.deep.equal([400, code, message]);
    }
  });

  it('describes an enrolled face: rect inside the photo, landmarks inside the rect, quality, groups, limits', async function () {
    const added = await client.addFace(await enrollablePhoto('penny', 1));
    expect(added.code, added.message).to.equal(0);
    const token = added.data.face_token as string;
    await client.post('/api/group/v1/create', { group_name: 'console_one' });
    await client.post('/api/group/v1/bind', { group_name: 'console_one', face_token: token });
    const res: any = await client.get(`/api/console/v1/face?face_token=${token}`);
    expect(res.code, res.message).to.equal(0);
    const { rect, image, landmarks, quality, groups, admission } = res.data;
    expect(image).to.deep.equal({ width: 700, height: 700 });
    expect(rect.left).to.be.within(0, 700);
    expect(rect.right).to.be.within(rect.left, 700);
    expect(landmarks).to.have.length(68);
    const inside = landmarks.filter(([x, y]: [number, number]) => x >= rect.left - 20 && x <= rect.right + 20 && y >= rect.top - 20 && y <= rect.bottom + 20);
    expect(inside.length).to.be.above(60);
    expect(quality.yaw).to.be.within(-20, 20);
    expect(groups).to.have.length(1);
    expect(groups[0]).to.include({ library: 'default', group_name: 'console_one', user_id: null });
    expect(admission).to.include({ min_face_size: 100, max_yaw: 20 });
    expect(res.data.deleted_at).to.equal(null);
    expect(res.data).to.not.have.property('feature');
  });

  it('lists terminals with their sync and whether they are on the push channel now', async function () {
    const sync = await fetch(`${ts.url}/api/service/sync/v1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_DEVICE_KEY}`, 'x-device-id': 'door-7', 'content-type': 'application/json' },
      body: JSON.stringify({ info: { version: '2.1', search_model: engine.searchModel, feature_encoding: 'int8' }, groups: [{ group_name: BIG, local_version: 0 }] }),
    });
    expect(sync.status).to.equal(200);
    await sync.arrayBuffer();
    const terminal = async () => {
      const res: any = await client.get('/api/console/v1/terminals');
      return res.data.terminals.find((t: { device: string }) => t.device === 'door-7');
    };
    const before = await terminal();
    expect(before).to.include({ device_id: 'door-7', client_version: '2.1', feature_encoding: 'int8', connected: false, stale: false });
    expect(before.bytes).to.be.above(25 * 64);
    expect(before.groups).to.deep.equal([{ group_name: BIG, device_version: 26, server_version: 26, lag: 0, result_code: 0, faces_added: 25, faces_deleted: 0 }]);

    const ws = await pushTerminal(ts.url, 'door-7', [BIG]);
    try {
      expect((await terminal()).connected).to.equal(true);
      await client.post('/api/group/v1/unbind', { group_name: BIG, face_token: tokens[0] });
      expect((await terminal()).groups[0]).to.include({ device_version: 26, server_version: 27, lag: 1 });
    } finally {
      ws.terminate();
    }
  });

  it('reports the server: version, models, uptime, store size, groups, push connections', async function () {
    const res: any = await client.get('/api/console/v1/server');
    expect(res.code, res.message).to.equal(0);
    expect(res.data.models.feature).to.equal(engine.searchModel);
    expect(res.data.store_bytes).to.be.above(0);
    expect(res.data.groups).to.be.at.least(2);
    expect(res.data.libraries).to.be.at.least(2);
    expect(res.data.uptime_s).to.be.at.least(0);
    expect(res.data).to.have.property('push_connections');
  });

  it('refuses callers without the admin key or a console session, the device key included', async function () {
    for (const path of ['/api/console/v1/groups', '/api/console/v1/terminals', '/api/console/v1/server']) {
      expect((await new FacePassClient(ts.url, null).get(path)).status, path).to.equal(401);
      expect((await new FacePassClient(ts.url, TEST_DEVICE_KEY).get(path)).status, path).to.equal(401);
    }
  });
});
