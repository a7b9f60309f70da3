import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import * as tar from 'tar';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { SyncKind, TerminalClient, TerminalGallery, type SyncReport } from '../../device-protocol/index.js';
import { FaceServer } from '../../server/app.js';
import { loopbackConfig } from '../../server/config.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import { BACKUP_PATH } from '../../server/backup/route.js';
import { restoreBackup, lineageBase } from '../../server/backup/restore.js';
import { BackupError } from '../../server/backup/manifest.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { expectInSync } from '../helpers/sync-assert.js';

const g = (name: string) => name as GroupName;

describe('backup and restore', function () {
  this.timeout(120_000);
  let engine: FaceEngine;
  let root: string;
  const servers: FaceServer[] = [];

  async function start(dataDir: string): Promise<FaceServer> {
    // No configured keys: the server keeps them in the data dir, so the backup carries them.
    const server = await FaceServer.start({ config: loopbackConfig(dataDir), engine });
    servers.push(server);
    return server;
  }

  async function download(server: FaceServer, file: string, key = server.keys.admin): Promise<void> {
    const res = await fetch(server.url + BACKUP_PATH, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/gzip');
    expect(res.headers.get('content-disposition')).to.match(/^attachment; filename="facepass-backup-.*\.tar\.gz"$/);
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  }

  async function expectRefused(file: string, dataDir: string, message: RegExp): Promise<void> {
    let error: unknown;
    try {
      await restoreBackup(file, dataDir);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(BackupError);
    expect((error as Error).message).to.match(message);
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
  });
  beforeEach(function () {
    root = mkdtempSync(join(tmpdir(), 'backup-test-'));
  });
  afterEach(async function () {
    for (const server of servers.splice(0)) await server.close();
    rmSync(root, { recursive: true, force: true });
  });
  after(async function () {
    await engine?.close();
  });

  it('streams a backup only for the admin key, one at a time, and restores it whole (faces, images, groups, log, sync status, keys)', async function () {
    const a = await start(join(root, 'a'));
    const faces = await addSyntheticFaces(a.store, 3, engine.searchModel);
    await a.store.createGroup(DEFAULT_LIBRARY, g('lobby'));
    for (const face of faces) await a.store.bind(DEFAULT_LIBRARY, g('lobby'), face.faceToken, { userId: 'u1', userInfo: 'x' });
    const terminal = new TerminalClient({ baseUrl: a.url, key: a.keys.device, deviceId: 'door-1', groups: ['lobby'] });
    await terminal.syncOnce();

    expect((await fetch(a.url + BACKUP_PATH)).status).to.equal(401);
    expect((await fetch(a.url + BACKUP_PATH, { headers: { authorization: `Bearer ${a.keys.device}` } })).status).to.equal(401);
    // A second request while the first streams is refused, not staged twice.
    const first = await fetch(a.url + BACKUP_PATH, { headers: { authorization: `Bearer ${a.keys.admin}` } });
    const second = await fetch(a.url + BACKUP_PATH, { headers: { authorization: `Bearer ${a.keys.admin}` } });
    expect(second.status).to.equal(409);
    await second.arrayBuffer();
    await first.arrayBuffer();
    const file = join(root, 'a.tar.gz');
    await download(a, file);
    // The staged copies go once the streams are done (removal is asynchronous).
    const staged = () => readdirSync(join(root, 'a')).filter((name) => name.startsWith('.backup-'));
    for (let i = 0; i < 600 && staged().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(staged()).to.deep.equal([]);
    const before = (await a.store.getGroup(DEFAULT_LIBRARY, g('lobby')))!;
    const log = await a.store.readChanges(before.groupId, { afterVersion: 0, limit: 100 });

    const result = await restoreBackup(file, join(root, 'b'));
    expect(result.manifest.files.map((f) => f.path).sort()).to.deep.equal(['admin.key', 'baidu-token.key', 'device.key', 'store/data.mdb', 'sync-status/data.mdb']);
    expect(readFileSync(join(root, 'b', 'baidu-token.key'), 'utf8')).to.equal(readFileSync(join(root, 'a', 'baidu-token.key'), 'utf8'));
    expect(statSync(join(root, 'b', 'admin.key')).mode & 0o777).to.equal(0o600);
    expect(result.lineage.groups).to.equal(1);
    expect(result.lineage.base).to.be.at.least(lineageBase(Date.now()) - 2 ** 21);
    const b = await start(join(root, 'b'));
    expect(b.keys).to.deep.include({ admin: a.keys.admin, device: a.keys.device, generated: [] });
    const after = (await b.store.getGroup(DEFAULT_LIBRARY, g('lobby')))!;
    expect(after).to.include({ groupId: before.groupId, faceCount: 3, tokenDigest: before.tokenDigest, version: result.lineage.base });
    expect(await b.store.readChanges(after.groupId, { afterVersion: 0, limit: 100 })).to.deep.equal(log);
    expect((await b.store.snapshotGroup(after.groupId))!.bindings).to.deep.equal((await a.store.snapshotGroup(before.groupId))!.bindings);
    for (const face of faces) {
      const copy = (await b.store.getFace(face.faceToken))!;
      expect(Array.from(copy.feature)).to.deep.equal(Array.from(face.feature));
      expect(Buffer.from((await b.store.getImage(face.imageId))!.bytes).equals(Buffer.from((await a.store.getImage(face.imageId))!.bytes))).to.equal(true);
    }
    const status = await fetch(b.url + '/api/service/sync/v1/status', { headers: { authorization: `Bearer ${b.keys.admin}` } });
    expect(JSON.stringify(await status.json())).to.contain('door-1');
  });

  it('refuses a corrupt, truncated or foreign file and a non-empty data dir, leaving the data dir empty', async function () {
    const a = await start(join(root, 'a'));
    await addSyntheticFaces(a.store, 2, engine.searchModel);
    const file = join(root, 'a.tar.gz');
    await download(a, file);
    const bytes = readFileSync(file);

    const truncated = join(root, 'truncated.tar.gz');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectRefused(truncated, join(root, 't'), /damaged or incomplete|incomplete|missing/);
    expect(readdirSync(join(root, 't'))).to.deep.equal([]);

    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
    const corrupt = join(root, 'corrupt.tar.gz');
    writeFileSync(corrupt, flipped);
    await expectRefused(corrupt, join(root, 'c'), /damaged|corrupt|incomplete/);
    expect(readdirSync(join(root, 'c'))).to.deep.equal([]);

    const foreign = join(root, 'foreign.tar.gz');
    writeFileSync(foreign, 'not a backup at all\n');
    await expectRefused(foreign, join(root, 'f'), /damaged or incomplete|no manifest/);
    await expectRefused(join(root, 'absent.tar.gz'), join(root, 'x'), /no backup file/);
    await expectRefused(file, join(root, 'a'), /is not empty/);
    // What a killed restore leaves behind does not count as data.
    mkdirSync(join(root, 'k', '.restore-abc123'), { recursive: true });
    await restoreBackup(file, join(root, 'k'));
    expect(readdirSync(join(root, 'k')).sort()).to.deep.equal(['admin.key', 'baidu-token.key', 'device.key', 'store', 'sync-status']);
    expect(existsSync(join(root, 'a', 'store'))).to.equal(true);
  });

  it('names the damage of a cut archive every time, not the cleanup racing tar\'s last write (60 restores)', async function () {
    // Before: 2 in 60 restores failed with "ENOTEMPTY" from removing the
    // staging dir while tar still closed the file it was writing.
    const src = join(root, 'src');
    for (const dir of ['store', 'sync-status']) mkdirSync(join(src, dir), { recursive: true });
    let seed = 5;
    const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    writeFileSync(join(src, 'store', 'data.mdb'), Buffer.concat(Array.from({ length: 64 }, () => noise(1 << 17))));
    writeFileSync(join(src, 'sync-status', 'data.mdb'), noise(1 << 16));
    writeFileSync(join(src, 'admin.key'), 'k');
    writeFileSync(join(src, 'manifest.json'), '{}');
    const whole = join(root, 'whole.tar.gz');
    await tar.c({ gzip: true, file: whole, cwd: src }, ['admin.key', 'store/data.mdb', 'sync-status/data.mdb', 'manifest.json']);
    const cut = join(root, 'cut.tar.gz');
    const bytes = readFileSync(whole);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    for (let i = 0; i < 60; i++) {
      await expectRefused(cut, join(root, `r${i}`), /damaged or incomplete/);
      expect(readdirSync(join(root, `r${i}`)), `restore ${i}`).to.deep.equal([]);
    }
  });

  it('a terminal synced before the backup gets a delta from the restored server; one that saw lost history gets a full copy, never a wrong delta', async function () {
    const a = await start(join(root, 'a'));
    const faces = (await addSyntheticFaces(a.store, 10, engine.searchModel)).map((f) => f.faceToken as FaceToken);
    const bind = (server: FaceServer, group: string, i: number) => server.store.bind(DEFAULT_LIBRARY, g(group), faces[i]!);
    const unbind = (server: FaceServer, group: string, i: number) => server.store.unbind(DEFAULT_LIBRARY, g(group), faces[i]!);
    const client = (server: FaceServer, gallery: TerminalGallery, groups: string[], deviceId: string) =>
      new TerminalClient({ baseUrl: server.url, key: server.keys.device, deviceId, groups, gallery });
    const names = new Map<number, string>(Object.entries(SyncKind).map(([name, kind]) => [kind, name]));
    const kinds = (report: SyncReport) => Object.fromEntries(report.groups.map((r) => [r.groupName, names.get(r.kind)]));

    await a.store.createGroup(DEFAULT_LIBRARY, g('lobby'));
    for (const i of [0, 1, 2]) await bind(a, 'lobby', i);
    const early = new TerminalGallery({ groups: ['lobby'] });
    await client(a, early, ['lobby'], 'early').syncOnce(); // lobby v4
    await bind(a, 'lobby', 3);
    const current = new TerminalGallery({ groups: ['lobby'] });
    await client(a, current, ['lobby'], 'current').syncOnce(); // v5, the backup's version

    const file = join(root, 'backup.tar.gz');
    await download(a, file);

    // History the backup does not have: a terminal sees it, then the server is lost.
    await bind(a, 'lobby', 4);
    await unbind(a, 'lobby', 0);
    await a.store.createGroup(DEFAULT_LIBRARY, g('annex'));
    await bind(a, 'annex', 5);
    const late = new TerminalGallery({ groups: ['lobby', 'annex'] });
    await client(a, late, ['lobby', 'annex'], 'late').syncOnce(); // lobby v7, annex (lost) v2
    const lateLobby = late.group('lobby')!;
    expect(lateLobby.version).to.equal(7);
    await servers.splice(servers.indexOf(a), 1)[0]!.close();

    await restoreBackup(file, join(root, 'b'));
    const b = await start(join(root, 'b'));
    // The restored server moves on with other changes: as many as the lost
    // server made, so plain version numbers would collide.
    await bind(b, 'lobby', 6);
    await bind(b, 'lobby', 7);
    await b.store.createGroup(DEFAULT_LIBRARY, g('annex'));
    await bind(b, 'annex', 8);
    const lobby = (await b.store.getGroup(DEFAULT_LIBRARY, g('lobby')))!;
    expect(lobby.groupId).to.equal(lateLobby.groupId!);
    expect(lobby.version).to.not.equal(lateLobby.version);

    let report = await client(b, early, ['lobby'], 'early').syncOnce();
    expect(kinds(report)).to.deep.equal({ lobby: 'Delta' });
    await expectInSync(b.store, early, 'lobby');

    report = await client(b, current, ['lobby'], 'current').syncOnce();
    expect(kinds(report)).to.deep.equal({ lobby: 'Delta' });
    await expectInSync(b.store, current, 'lobby');

    report = await client(b, late, ['lobby', 'annex'], 'late').syncOnce();
    expect(kinds(report)).to.deep.equal({ lobby: 'Full', annex: 'Full' });
    await expectInSync(b.store, late, 'lobby');
    await expectInSync(b.store, late, 'annex');
    expect([...late.group('lobby')!.faces.keys()]).to.not.include(faces[4]);

    report = await client(b, late, ['lobby', 'annex'], 'late').syncOnce();
    expect(kinds(report)).to.deep.equal({ lobby: 'Unchanged', annex: 'Unchanged' });
  });
});
