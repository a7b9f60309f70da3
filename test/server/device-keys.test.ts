// Per-terminal credentials end to end: register (key shown once, stored
// hashed), list, revoke, rotation; a device key acts only as its own device
// for sync, status and push; the shared DEVICE_KEY keeps working for
// devices without a key of their own.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { CloseCode, decodePushFrame, encodePushFrame, PushFrameType, PUSH_PATH, type PushMessage } from '../../device-protocol/index.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { startTestServer, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

interface PushOutcome {
  /** HTTP status of a refused upgrade, else 101. */
  status: number;
  messages: PushMessage[];
  close?: number;
}

/** Opens a push connection, sends a hello naming `helloId`, and reports what happened until it closes or `waitMs` passes. */
function pushAttempt(url: string, key: string, options: { header?: string; helloId: string; waitMs?: number; onReady?: (ws: WebSocket) => void }): Promise<PushOutcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (options.header) headers['x-device-id'] = options.header;
    const ws = new WebSocket(url.replace(/^http/, 'ws') + PUSH_PATH, { headers });
    const outcome: PushOutcome = { status: 101, messages: [] };
    const timer = setTimeout(() => {
      ws.terminate();
      resolve(outcome);
    }, options.waitMs ?? 3000);
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve({ ...outcome, status: res.statusCode ?? 0 });
    });
    ws.on('open', () => {
      ws.send(encodePushFrame({ type: PushFrameType.ClientHello, hello: { protocolVersion: 1, deviceId: options.helloId, groups: [{ groupName: 'lobby', groupId: 0, version: 0 }] } }));
    });
    ws.on('message', (data: Buffer) => {
      const message = decodePushFrame(data)!;
      outcome.messages.push(message);
      if (message.type === PushFrameType.ServerHello) options.onReady?.(ws);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ...outcome, close: code });
    });
    ws.on('error', () => undefined);
  });
}

describe('per-terminal device keys', function () {
  this.timeout(120_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let admin: FacePassClient;
  let doorKey = '';

  const syncAs = (key: string, deviceHeader?: string) =>
    fetch(ts.url + '/api/service/sync/v1', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, ...(deviceHeader ? { 'x-device-id': deviceHeader } : {}) },
      body: JSON.stringify({ info: { search_model: engine.searchModel, version: 'v1' }, groups: [{ group_name: 'lobby', local_version: 0 }] }),
    });

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 1, warmUp: false });
    ts = await startTestServer(engine);
    admin = new FacePassClient(ts.url);
    expect((await admin.post('/api/group/v1/create', { group_name: 'lobby' })).code).to.equal(0);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('registers a device and shows its key once; only its hash is stored', async function () {
    const res = await admin.post<{ device_id: string; device_key: string; created_at: number }>('/api/device/v1/register', { device_id: 'door-1' });
    expect(res.code, res.message).to.equal(0);
    expect(res.data.device_id).to.equal('door-1');
    expect(res.data.device_key).to.match(/^dk_[A-Za-z0-9_-]{43}$/);
    doorKey = res.data.device_key;
    const list = await admin.get<{ devices: Array<Record<string, unknown>> }>('/api/device/v1/list');
    expect(list.data.devices).to.deep.equal([{ device_id: 'door-1', created_at: res.data.created_at }]);
    expect(JSON.stringify(list)).to.not.include(doorKey);
    for (const file of filesUnder(ts.dataDir)) expect(readFileSync(file).includes(doorKey), file).to.equal(false);
  });

  it('refuses a bad device id, and device keys on the admin API', async function () {
    expect((await admin.post('/api/device/v1/register', {})).message).to.equal('MISSING_ARGUMENT: device_id');
    expect((await admin.post('/api/device/v1/register', { device_id: 'door 1' })).message).to.equal('ILLEGAL_ARGUMENT: device_id');
    expect((await admin.post('/api/device/v1/revoke', { device_id: 'never-registered' })).message).to.equal('ILLEGAL_ARGUMENT: device_id');
    for (const key of [doorKey, TEST_DEVICE_KEY]) {
      expect((await new FacePassClient(ts.url, key).post('/api/device/v1/register', { device_id: 'door-9' })).status).to.equal(401);
      expect((await new FacePassClient(ts.url, key).get('/api/group/v1/list')).status).to.equal(401);
    }
  });

  it('syncs with the device key as its own device, and refuses it naming another (403)', async function () {
    const own = await syncAs(doorKey);
    expect(own.status).to.equal(200);
    await own.arrayBuffer();
    const same = await syncAs(doorKey, 'door-1');
    expect(same.status).to.equal(200);
    await same.arrayBuffer();
    const other = await syncAs(doorKey, 'door-2');
    expect(other.status).to.equal(403);
    expect(await other.json()).to.include({ code: 403, message: 'FORBIDDEN' });
    const status = await new FacePassClient(ts.url).get<{ devices: Array<{ device_id: string }> }>('/api/service/sync/v1/status?device_id=door-1');
    expect(status.data.devices.map((d) => d.device_id)).to.deep.equal(['door-1']);
  });

  it('lets the shared key name any device without a key of its own, but not a registered one', async function () {
    const free = await syncAs(TEST_DEVICE_KEY, 'door-shared');
    expect(free.status).to.equal(200);
    await free.arrayBuffer();
    const taken = await syncAs(TEST_DEVICE_KEY, 'door-1');
    expect(taken.status).to.equal(403);
  });

  it('shows a device key its own status only; the shared key sees every device', async function () {
    const mine = await new FacePassClient(ts.url, doorKey).get<{ devices: Array<{ device_id: string }>; total: number }>('/api/service/sync/v1/status');
    expect(mine.data.devices.map((d) => d.device_id)).to.deep.equal(['door-1']);
    expect(mine.data.total).to.equal(1);
    const asked = await new FacePassClient(ts.url, doorKey).get<{ devices: Array<{ device_id: string }> }>('/api/service/sync/v1/status?device_id=door-shared');
    expect(asked.data.devices.map((d) => d.device_id)).to.deep.equal(['door-1']);
    const all = await new FacePassClient(ts.url, TEST_DEVICE_KEY).get<{ devices: Array<{ device_id: string }> }>('/api/service/sync/v1/status');
    expect(all.data.devices.map((d) => d.device_id)).to.include.members(['door-1', 'door-shared']);
  });

  it('binds push connections to the device: 403 for another X-Device-Id, 4401 for a hello naming another, no supersede by the shared key', async function () {
    const header = await pushAttempt(ts.url, doorKey, { header: 'door-2', helloId: '' });
    expect(header.status).to.equal(403);
    const sharedHeader = await pushAttempt(ts.url, TEST_DEVICE_KEY, { header: 'door-1', helloId: '' });
    expect(sharedHeader.status).to.equal(403);
    const hello = await pushAttempt(ts.url, doorKey, { helloId: 'door-2' });
    expect(hello.close).to.equal(CloseCode.Unauthorized);
    expect(hello.messages.map((m) => m.type)).to.deep.equal([PushFrameType.Error]);

    // The registered terminal is connected; the shared key naming it in a hello is refused, and does not supersede it.
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const door = pushAttempt(ts.url, doorKey, { helloId: '', waitMs: 60_000, onReady: () => ready() });
    await isReady;
    const intruder = await pushAttempt(ts.url, TEST_DEVICE_KEY, { helloId: 'door-1' });
    expect(intruder.close).to.equal(CloseCode.Unauthorized);
    // Revoking the key closes the terminal's connection and the key stops working.
    expect((await admin.post('/api/device/v1/revoke', { device_id: 'door-1' })).code).to.equal(0);
    const closed = await door;
    expect(closed.close).to.equal(CloseCode.Unauthorized);
    expect(closed.messages.map((m) => m.type)).to.deep.equal([PushFrameType.ServerHello, PushFrameType.Error]);
    expect((await syncAs(doorKey)).status).to.equal(401);
    expect((await pushAttempt(ts.url, doorKey, { helloId: '' })).status).to.equal(401);
    // Now unregistered, the id is free for the shared key again.
    const freed = await syncAs(TEST_DEVICE_KEY, 'door-1');
    expect(freed.status).to.equal(200);
    await freed.arrayBuffer();
  });

  it('rotates a key by registering again: the old one stops at once', async function () {
    const first = await admin.post<{ device_key: string }>('/api/device/v1/register', { device_id: 'door-7' });
    const second = await admin.post<{ device_key: string }>('/api/device/v1/register', { device_id: 'door-7' });
    expect(second.data.device_key).to.not.equal(first.data.device_key);
    expect((await syncAs(first.data.device_key)).status).to.equal(401);
    const ok = await syncAs(second.data.device_key);
    expect(ok.status).to.equal(200);
    await ok.arrayBuffer();
  });

  it('pages the device list and keeps keys across a restart', async function () {
    for (const id of ['door-a', 'door-b', 'door-c']) await admin.post('/api/device/v1/register', { device_id: id });
    const first = await admin.get<{ devices: Array<{ device_id: string }>; next?: string }>('/api/device/v1/list?limit=2');
    expect(first.data.devices.map((d) => d.device_id)).to.deep.equal(['door-7', 'door-a']);
    expect(first.data.next).to.equal('door-a');
    const second = await admin.get<{ devices: Array<{ device_id: string }>; next?: string }>('/api/device/v1/list?limit=2&after=door-a');
    expect(second.data.devices.map((d) => d.device_id)).to.deep.equal(['door-b', 'door-c']);
    expect(second.data).to.not.have.property('next');
    await ts.restart();
    admin = new FacePassClient(ts.url);
    expect((await admin.get<{ devices: unknown[] }>('/api/device/v1/list')).data.devices).to.have.length(4);
  });
});
