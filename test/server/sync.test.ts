import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { withFeatureModel } from '../helpers/feature-model.js';
import { MAX_GROUPS_PER_REQUEST, SyncKind, TerminalClient, TerminalGallery, type SyncReport } from '../../device-protocol/index.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { expectInSync as expectGroupInSync } from '../helpers/sync-assert.js';
import { ENROLLABLE, enrollablePhoto } from '../helpers/photos.js';
import { startTestServer, testConfig, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceServer } from '../../server/app.js';
import { PendingSyncStatus } from '../../storage/pending-sync-status.js';
import { HeldSyncStatus } from '../helpers/held-sync-status.js';

describe('terminal sync end to end', function () {
  let engine: FaceEngine;
  let ts: TestServer;
  let admin: FacePassClient;
  const tokens: string[] = [];

  const expectInSync = (gallery: TerminalGallery, name: string) => expectGroupInSync(ts.server.store, gallery, name);

  function terminal(gallery: TerminalGallery, groups: string[], deviceId = 'door-1'): TerminalClient {
    return new TerminalClient({ baseUrl: ts.url, key: TEST_DEVICE_KEY, deviceId, groups, gallery });
  }

  const KIND_NAMES: Record<number, string> = {
    [SyncKind.Unchanged]: 'UNCHANGED',
    [SyncKind.Delta]: 'DELTA',
    [SyncKind.Full]: 'FULL',
    [SyncKind.GroupGone]: 'GROUP_GONE',
    [SyncKind.Reset]: 'RESET',
  };
  const kinds = (report: SyncReport) => report.groups.map((group) => KIND_NAMES[group.kind]);

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    admin = new FacePassClient(ts.url);
    for (const [person, n] of ENROLLABLE.slice(0, 6)) {
      const res = await admin.addFace(await enrollablePhoto(person, n));
      expect(res.code, res.message).to.equal(0);
      tokens.push(res.data.face_token!);
    }
    for (const name of ['lobby', 'garage']) expect((await admin.post('/api/group/v1/create', { group_name: name })).code).to.equal(0);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('syncs a full copy first, then deltas, then nothing when unchanged', async function () {
    const gallery = new TerminalGallery({ groups: ['lobby', 'garage'] });
    const client = terminal(gallery, ['lobby', 'garage']);
    for (const token of tokens.slice(0, 4)) await admin.post('/api/group/v1/bind', { group_name: 'lobby', face_token: token });
    await admin.post('/api/group/v1/bind', { group_name: 'garage', face_token: tokens[5] });

    let report = await client.syncOnce();
    expect(report.reset).to.equal(true); // a new terminal has no model yet
    expect(gallery.searchModel).to.equal(engine.searchModel);
    await expectInSync(gallery, 'lobby');
    await expectInSync(gallery, 'garage');

    await admin.post('/api/group/v1/unbind', { group_name: 'lobby', face_token: tokens[0] });
    await admin.post('/api/group/v1/bind', { group_name: 'lobby', face_token: tokens[4] });
    // Bound and unbound inside the range: must not appear at all.
    await admin.post('/api/group/v1/bind', { group_name: 'lobby', face_token: tokens[5] });
    await admin.post('/api/group/v1/unbind', { group_name: 'lobby', face_token: tokens[5] });
    report = await client.syncOnce();
    expect(kinds(report)).to.deep.equal(['DELTA', 'UNCHANGED']);
    expect(report.groups[0]).to.include({ upserted: 1, removed: 1 });
    await expectInSync(gallery, 'lobby');

    report = await client.syncOnce();
    expect(kinds(report)).to.deep.equal(['UNCHANGED', 'UNCHANGED']);
    await client.close();
  });

  it('follows a face delete, a group delete (kept locally) and a re-created group (full copy)', async function () {
    const gallery = new TerminalGallery({ groups: ['lobby', 'garage'] });
    const client = terminal(gallery, ['lobby', 'garage']);
    await client.syncOnce();

    expect((await admin.post('/api/face/v1/delete', { face_token: tokens[1] })).code).to.equal(0);
    let report = await client.syncOnce();
    expect(kinds(report)[0]).to.equal('DELTA');
    await expectInSync(gallery, 'lobby');

    const garageBefore = gallery.group('garage')!;
    expect((await admin.post('/api/group/v1/delete', { group_name: 'garage' })).code).to.equal(0);
    report = await client.syncOnce();
    expect(kinds(report)).to.deep.equal(['UNCHANGED', 'GROUP_GONE']);
    expect(gallery.group('garage')!.faces.size).to.equal(garageBefore.faces.size);

    expect((await admin.post('/api/group/v1/create', { group_name: 'garage' })).code).to.equal(0);
    await admin.post('/api/group/v1/bind', { group_name: 'garage', face_token: tokens[2] });
    report = await client.syncOnce();
    expect(kinds(report)).to.deep.equal(['UNCHANGED', 'FULL']);
    await expectInSync(gallery, 'garage');
    await client.close();
  });

  it('resets everything when the terminal holds features of another model', async function () {
    const gallery = new TerminalGallery({ groups: ['lobby'] });
    const client = terminal(gallery, ['lobby']);
    await client.syncOnce();
    const stale = new TerminalGallery({ searchModel: 'feature-oldmodel0000', groups: ['lobby'] });
    stale.commit(stale.state, { ...gallery.state, searchModel: 'feature-oldmodel0000' });
    const staleClient = terminal(stale, ['lobby'], 'door-2');
    const report = await staleClient.syncOnce();
    expect(report.reset).to.equal(true);
    expect(kinds(report)).to.deep.equal(['RESET']);
    expect(stale.searchModel).to.equal(engine.searchModel);
    await expectInSync(stale, 'lobby');
    await client.close();
    await staleClient.close();
  });

  it('records each sync per device for the status query', async function () {
    const client = terminal(new TerminalGallery({ groups: ['lobby'] }), ['lobby'], 'door-3');
    await client.syncOnce();
    await client.syncOnce();
    await client.close();
    const res = await new FacePassClient(ts.url, TEST_DEVICE_KEY).get<{ devices: Array<Record<string, any>> }>('/api/service/sync/v1/status');
    expect(res.code).to.equal(0);
    const door = res.data.devices.find((d) => d.device_id === 'door-3')!;
    expect(res.data.devices.map((d) => d.device_id)).to.include.members(['door-1', 'door-2', 'door-3']);
    expect(door.ip).to.match(/127\.0\.0\.1/);
    expect(door.version).to.be.a('string');
    expect(door.sync_status.info.search_model).to.equal(engine.searchModel);
    expect(door.sync_status.sync_time).to.be.a('number');
    const lobby = door.groups.find((g: Record<string, unknown>) => g.group_name === 'lobby');
    expect(lobby).to.include.all.keys('group_id', 'local_version', 'cloud_version', 'result_code', 'result_version', 'result');
    expect(lobby.result_code).to.equal(0);
    expect(lobby.result_version).to.equal(lobby.cloud_version);
    expect(lobby.result).to.have.all.keys('facetoken_added', 'facetoken_deleted');
    expect(lobby.kind).to.equal('UNCHANGED');
    const group = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'lobby' as GroupName))!;
    expect(lobby.token_digest).to.equal(group.tokenDigest);
    expect(door.sync_status.groups).to.deep.equal(door.groups);
  });

  it('sends the trailer without waiting for the status write, and a status query right after sees the record', async function () {
    const held = new HeldSyncStatus();
    const dataDir = mkdtempSync(join(tmpdir(), 'face-server-test-'));
    const server = await FaceServer.start({ config: testConfig(dataDir), engine, syncStatus: new PendingSyncStatus(held, 100) });
    try {
      const response = await fetch(server.url + '/api/service/sync/v1', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_DEVICE_KEY}`, 'x-device-id': 'door-held' },
        body: JSON.stringify({ info: { search_model: engine.searchModel, version: 'v1' }, groups: [{ group_name: 'lobby', local_version: 0 }] }),
      });
      expect(response.status).to.equal(200);
      let timer: NodeJS.Timeout | undefined;
      const whole = await Promise.race([
        response.arrayBuffer().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5000))),
      ]);
      clearTimeout(timer);
      expect(whole, 'the response must end while the status write is held').to.equal(true);
      expect(held.held.map((write) => write.status.device)).to.deep.equal(['door-held']);
      const res = await new FacePassClient(server.url, TEST_DEVICE_KEY).get<{ devices: Array<Record<string, any>> }>('/api/service/sync/v1/status?device_id=door-held');
      expect(res.data.devices.map((d) => [d.device_id, d.groups[0].result_code])).to.deep.equal([['door-held', 0]]);
    } finally {
      held.holding = false;
      held.land();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(held.closed).to.equal(true);
    expect([...held.stored.keys()]).to.deep.equal(['door-held']);
  });

  it('records GROUP_GONE with the terminal own version, and facetoken_deleted only where it is known', async function () {
    const device = new FacePassClient(ts.url, TEST_DEVICE_KEY);
    const lobby = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'lobby' as GroupName))!;
    const body = {
      info: { search_model: engine.searchModel, version: 'v9' },
      groups: [
        { group_name: 'nowhere', group_id: 77, local_version: 12 }, // GROUP_GONE: keeps its copy at 12
        { group_name: 'lobby', local_version: 0 }, // FULL of a new copy: dropped nothing
        { group_name: 'garage', group_id: 999_999, local_version: 3 }, // FULL over an unknown copy
      ],
    };
    const response = await fetch(ts.url + '/api/service/sync/v1', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_DEVICE_KEY}`, 'x-device-id': 'door-status' },
      body: JSON.stringify(body),
    });
    expect(response.status).to.equal(200);
    await response.arrayBuffer();
    const res = await device.get<{ devices: Array<Record<string, any>> }>('/api/service/sync/v1/status?device_id=door-status');
    const [door] = res.data.devices;
    const byName = new Map<string, Record<string, any>>(door!.groups.map((g: Record<string, any>) => [g.group_name, g]));
    const gone = byName.get('nowhere')!;
    expect(gone).to.include({ kind: 'GROUP_GONE', result_code: 0, local_version: 12, cloud_version: 0, result_version: 12 });
    expect(gone.result).to.deep.equal({ facetoken_added: 0, facetoken_deleted: 0 });
    expect(gone).to.not.have.property('token_digest');
    const fresh = byName.get('lobby')!;
    expect(fresh).to.include({ kind: 'FULL', result_version: lobby.version });
    expect(fresh.result).to.deep.equal({ facetoken_added: lobby.faceCount, facetoken_deleted: 0 });
    const unknown = byName.get('garage')!;
    expect(unknown.kind).to.equal('FULL');
    expect(unknown.result).to.have.all.keys('facetoken_added');
  });

  it('pages the status query and finds one device', async function () {
    const device = new FacePassClient(ts.url, TEST_DEVICE_KEY);
    type Page = { devices: Array<{ device_id: string | null; ip: string }>; total: number; next?: string };
    const all = await device.get<Page>('/api/service/sync/v1/status?limit=1000');
    expect(all.data.total).to.equal(all.data.devices.length).and.to.be.at.least(3);
    expect(all.data).to.not.have.property('next');
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const res = await device.get<Page>(`/api/service/sync/v1/status?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      expect(res.code).to.equal(0);
      expect(res.data.devices.length).to.be.at.most(2);
      seen.push(...res.data.devices.map((d) => d.device_id ?? d.ip));
      if (!res.data.next) break;
      after = res.data.next;
    }
    expect(seen).to.deep.equal(all.data.devices.map((d) => d.device_id ?? d.ip));
    const one = await device.get<Page>('/api/service/sync/v1/status?device_id=door-3');
    expect(one.data.devices.map((d) => d.device_id)).to.deep.equal(['door-3']);
    expect((await device.get<Page>('/api/service/sync/v1/status?device_id=nobody')).data.devices).to.deep.equal([]);
    for (const bad of ['limit=0', 'limit=1001', 'limit=x']) {
      const res = await device.get(`/api/service/sync/v1/status?${bad}`);
      expect([res.status, res.code, res.message], bad).to.deep.equal([400, 104001, 'ILLEGAL_ARGUMENT: limit']);
    }
  });

  it('refuses names, lists and strings over the limits with 400 ILLEGAL_ARGUMENT, never a StreamError', async function () {
    const device = new FacePassClient(ts.url, TEST_DEVICE_KEY);
    const info = { search_model: engine.searchModel, version: 'v1' };
    const cases: Array<[unknown, string]> = [
      [{ info, groups: [{ group_name: 'g'.repeat(4096), local_version: 0 }] }, 'ILLEGAL_ARGUMENT: group_name'],
      [{ info, groups: Array.from({ length: MAX_GROUPS_PER_REQUEST + 1 }, (_, i) => ({ group_name: `g${i}`, local_version: 0 })) }, 'ILLEGAL_ARGUMENT: groups'],
      [{ info: { ...info, version: 'v'.repeat(2 * 1024 * 1024) }, groups: [] }, 'ILLEGAL_ARGUMENT: version'],
    ];
    for (const [body, message] of cases) {
      const res = await device.post('/api/service/sync/v1', body);
      expect([res.status, res.code, res.message]).to.deep.equal([400, 104001, message]);
    }
    const longId = await fetch(ts.url + '/api/service/sync/v1', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_DEVICE_KEY}`, 'x-device-id': 'd'.repeat(129) },
      body: JSON.stringify({ info, groups: [] }),
    });
    expect(longId.status).to.equal(400);
    expect(((await longId.json()) as { message: string }).message).to.equal('ILLEGAL_ARGUMENT: X-Device-Id');
  });

  it('answers malformed requests with FacePass codes', async function () {
    const device = new FacePassClient(ts.url, TEST_DEVICE_KEY);
    const cases: Array<[unknown, number, string]> = [
      ['{bad', 104000, 'ILLEGAL_JSON_BODY'],
      [{}, 104002, 'MISSING_ARGUMENT: info,groups'],
      [{ info: { version: 'v1' }, groups: [] }, 104002, 'MISSING_ARGUMENT: search_model'],
      [{ info: { search_model: 'x', version: 'v1' }, groups: 'lobby' }, 104001, 'ILLEGAL_ARGUMENT: groups'],
      [{ info: { search_model: 'x', version: 'v1' }, groups: [{ group_name: 'lobby', local_version: -1 }] }, 104001, 'ILLEGAL_ARGUMENT: local_version'],
      [{ info: { search_model: 'x', version: 'v1', feature_encoding: 'bf16' }, groups: [] }, 104001, 'ILLEGAL_ARGUMENT: feature_encoding'],
    ];
    for (const [body, code, message] of cases) {
      const res = await device.post('/api/service/sync/v1', body);
      expect([res.status, res.code, res.message], JSON.stringify(body)).to.deep.equal([400, code, message]);
    }
    const anonymous = await fetch(ts.url + '/api/service/sync/v1', { method: 'POST', body: '{}' });
    expect(anonymous.status).to.equal(401);
  });

  it("after the server's model changes, re-extracts every face from its photo and resets terminals to the new features", async function () {
    const gallery = new TerminalGallery({ groups: ['lobby', 'garage'] });
    const old = terminal(gallery, ['lobby', 'garage'], 'door-upgrade');
    await old.syncOnce();
    await old.close();
    const before = new Map([...gallery.group('lobby')!.faces].map(([token, face]) => [token, face.feature]));
    expect(before.size).to.be.greaterThan(0);

    // Another feature model: same detector, features that differ from the old ones.
    const upgraded = withFeatureModel(engine, `${engine.searchModel}-next`, (feature) => feature.slice().reverse());
    await ts.restart(upgraded);
    // The upgrade runs in the background (model-upgrade.test.ts, model-upgrade-e2e.test.ts): wait for its switch.
    await ts.server.modelUpgrade.start();
    // The restarted server listens on another port: the same terminal, pointed at it.
    const client = terminal(gallery, ['lobby', 'garage'], 'door-upgrade');
    const report = await client.syncOnce();
    expect(report.reset).to.equal(true);
    expect(kinds(report)).to.deep.equal(['RESET', 'RESET']);
    expect(gallery.searchModel).to.equal(upgraded.searchModel);
    await expectInSync(gallery, 'lobby');
    await expectInSync(gallery, 'garage');
    // The stored features are the new model's, extracted again from the photos.
    for (const [token, old] of before) {
      const now = gallery.group('lobby')!.faces.get(token)!.feature;
      expect(Array.from(now)).to.deep.equal(Array.from(old).reverse());
    }
    await client.close();
    // Enrolment keeps working with the new model.
    const added = await new FacePassClient(ts.url).addFace(await enrollablePhoto(ENROLLABLE[7]![0], ENROLLABLE[7]![1]));
    expect(added.code, added.message).to.equal(0);
    expect((await ts.server.store.getFace(added.data.face_token! as FaceToken))!.modelVersion).to.equal(upgraded.searchModel);
  });
});
