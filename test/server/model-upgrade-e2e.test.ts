// A model upgrade end to end: the server restarts on an engine with another
// feature model and keeps serving (sync, admin, version, metrics) with the
// old features while a gate holds the background re-extraction; a restart
// mid-upgrade resumes it; the switch resets terminals to the new features.
// Nothing here waits on wall-clock speed: the gate decides when faces pass.
import { expect } from 'chai';
import WebSocket from 'ws';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { SyncKind, TerminalClient, TerminalGallery, type SyncReport, type WebSocketLike } from '../../device-protocol/index.js';
import type { FaceToken } from '../../server/core/ids.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { withFeatureModel } from '../helpers/feature-model.js';
import { expectInSync } from '../helpers/sync-assert.js';
import { ENROLLABLE, enrollablePhoto } from '../helpers/photos.js';
import { startTestServer, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

/** Lets faces through one by one when told to; `open()` lets all through. */
class Gate {
  #allowed = 0;
  #passed = 0;
  #waiters: Array<() => void> = [];
  async pass(): Promise<void> {
    while (this.#passed >= this.#allowed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#passed++;
  }
  allow(n: number): void {
    this.#allowed += n;
    for (const wake of this.#waiters.splice(0)) wake();
  }
  open(): void {
    this.allow(Infinity);
  }
}

/** Waits (on the event loop, not on a clock) until `ready` holds. */
async function until(ready: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await ready())) await new Promise((resolve) => setTimeout(resolve, 5));
}

const KIND: Record<number, string> = {
  [SyncKind.Unchanged]: 'UNCHANGED',
  [SyncKind.Delta]: 'DELTA',
  [SyncKind.Full]: 'FULL',
  [SyncKind.GroupGone]: 'GROUP_GONE',
  [SyncKind.Reset]: 'RESET',
};
const kinds = (report: SyncReport) => report.groups.map((g) => KIND[g.kind]);
const bits = (feature: Float32Array) => Array.from(new Uint32Array(feature.slice().buffer));

describe('model upgrade end to end: serving while re-extracting, resuming, switching', function () {
  let engine: FaceEngine;
  let upgraded: FaceEngine;
  let ts: TestServer;
  const tokens: string[] = [];

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    upgraded = withFeatureModel(engine, `${engine.searchModel}-next`, (feature) => feature.slice().reverse());
    ts = await startTestServer(engine);
    const admin = new FacePassClient(ts.url);
    for (const [person, n] of ENROLLABLE.slice(0, 4)) {
      const res = await admin.addFace(await enrollablePhoto(person, n));
      expect(res.code, res.message).to.equal(0);
      tokens.push(res.data.face_token!);
    }
    expect((await admin.post('/api/group/v1/create', { group_name: 'lobby' })).code).to.equal(0);
    for (const token of tokens.slice(0, 3)) expect((await admin.post('/api/group/v1/bind', { group_name: 'lobby', face_token: token })).code).to.equal(0);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('keeps serving the old features, resumes after a restart, then resets terminals to the new ones bit for bit', async function () {
    const terminal = (gallery: TerminalGallery, deviceId: string) =>
      new TerminalClient({ baseUrl: ts.url, key: TEST_DEVICE_KEY, deviceId, groups: ['lobby'], gallery });
    const gallery = new TerminalGallery({ groups: ['lobby'] });
    let client = terminal(gallery, 'door-1');
    await client.syncOnce();
    await client.close();
    const old = new Map([...gallery.group('lobby')!.faces].map(([token, face]) => [token, face.feature]));
    expect(old.size).to.equal(3);

    // 1. Restart on the new model; the gate lets one face through.
    const first = new Gate();
    first.allow(1);
    await ts.restart(upgraded, { modelUpgrade: { gate: () => first.pass() } });
    await until(() => ts.server.modelUpgrade.progress.done >= 1);
    expect(ts.server.modelUpgrade.progress).to.include({ phase: 'running', done: 1, total: 4 });

    // The version answer and /metrics show the progress.
    const anonymous = new FacePassClient(ts.url, null);
    const version = await anonymous.get<{ detail: Record<string, any> }>('/api/version/v1');
    expect(version.data.detail.feature).to.equal(upgraded.searchModel);
    expect(version.data.detail.served_feature).to.equal(engine.searchModel);
    expect(version.data.detail.model_upgrade).to.include({ state: 'running', from: engine.searchModel, to: upgraded.searchModel, done: 1, total: 4, failed: 0 });
    const metrics = await (await fetch(`${ts.url}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).text();
    expect(metrics).to.match(/^model_upgrade_phase 1$/m).and.match(/^model_upgrade_faces_done 1$/m).and.match(/^model_upgrade_faces_total 4$/m);

    // Sync still answers with the old model: nothing changed for the terminal.
    client = terminal(gallery, 'door-1');
    let report = await client.syncOnce();
    expect(report.reset).to.equal(false);
    expect(kinds(report)).to.deep.equal(['UNCHANGED']);
    for (const [token, feature] of old) expect(bits(gallery.group('lobby')!.faces.get(token)!.feature)).to.deep.equal(bits(feature));

    // Admin works: enrolment (the new model) and bind; the terminal gets the
    // face with a zero feature (no old-model feature exists for it).
    const admin = new FacePassClient(ts.url);
    const photo = await enrollablePhoto(ENROLLABLE[5]![0], ENROLLABLE[5]![1]);
    const added = await admin.addFace(photo);
    expect(added.code, added.message).to.equal(0);
    const fresh = added.data.face_token!;
    expect((await admin.post('/api/group/v1/bind', { group_name: 'lobby', face_token: fresh })).code).to.equal(0);
    report = await client.syncOnce();
    expect(kinds(report)).to.deep.equal(['DELTA']);
    expect(gallery.searchModel).to.equal(engine.searchModel);
    expect(Array.from(gallery.group('lobby')!.faces.get(fresh)!.feature).every((x) => x === 0)).to.equal(true);
    await expectInSync(ts.server.store, gallery, 'lobby', (local, server) => server.length === 0 ? local.every((x) => x === 0) : bits(local).join() === bits(server).join());
    await client.close();
    expect(await ts.server.modelUpgrade.refreshProgress()).to.include({ done: 2, total: 5 });

    // 2. Restart mid-upgrade: it resumes, serving the old features meanwhile.
    const second = new Gate();
    await ts.restart(upgraded, { modelUpgrade: { gate: () => second.pass() } });
    expect(ts.server.modelUpgrade.progress).to.include({ phase: 'running', done: 2, total: 5 });
    client = terminal(gallery, 'door-1');
    expect(kinds(await client.syncOnce())).to.deep.equal(['UNCHANGED']);
    await client.close();

    // A terminal on the push channel is told to reconnect at the switch.
    const pushed = new TerminalGallery({ groups: ['lobby'] });
    const live = new TerminalClient({
      baseUrl: ts.url,
      key: TEST_DEVICE_KEY,
      deviceId: 'door-push',
      groups: ['lobby'],
      gallery: pushed,
      createWebSocket: (url, init) => new WebSocket(url, { headers: init.headers }) as unknown as WebSocketLike,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    const reports: SyncReport[] = [];
    live.on('synced', (e) => reports.push(e.report));
    const connected = new Promise<void>((resolve) => live.on('connected', () => resolve()));
    live.start();
    try {
      await connected;
      await until(() => reports.length >= 1);
      expect(pushed.searchModel).to.equal(engine.searchModel);

      // 3. Let the rest through: the switch.
      const before = reports.length;
      second.open();
      await ts.server.modelUpgrade.start();
      expect(ts.server.modelUpgrade.progress).to.include({ phase: 'done', done: 5, total: 5, failed: 0, extracted: 3 });
      const after = await new FacePassClient(ts.url, null).get<{ detail: Record<string, any> }>('/api/version/v1');
      expect(after.data.detail.served_feature).to.equal(upgraded.searchModel);
      expect(after.data.detail.model_upgrade).to.include({ state: 'done', done: 5, total: 5 });

      await until(() => reports.slice(before).some((r) => r.reset));
      expect(pushed.searchModel).to.equal(upgraded.searchModel);
    } finally {
      await live.close();
    }

    client = terminal(gallery, 'door-1');
    report = await client.syncOnce();
    expect(report.reset).to.equal(true);
    expect(kinds(report)).to.deep.equal(['RESET']);
    expect(gallery.searchModel).to.equal(upgraded.searchModel);
    await expectInSync(ts.server.store, gallery, 'lobby');
    await expectInSync(ts.server.store, pushed, 'lobby');
    // Bit for bit the new model's features of the same photos.
    for (const [token, feature] of old) expect(bits(gallery.group('lobby')!.faces.get(token)!.feature)).to.deep.equal(bits(feature.slice().reverse()));
    const expected = (await upgraded.analyze(photo, { limits: ts.server.config.faceAddImage, maxFaces: 1, feature: true })).faces[0]!.feature!;
    expect(bits(gallery.group('lobby')!.faces.get(fresh)!.feature)).to.deep.equal(bits(expected));
    expect((await ts.server.store.getFace(fresh as FaceToken))!.modelVersion).to.equal(upgraded.searchModel);
    await client.close();
  });
});
