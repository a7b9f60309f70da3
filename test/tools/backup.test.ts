// tools/backup.ts and tools/restore.ts as child processes against a running server.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { DEFAULT_LIBRARY, type GroupName } from '../../server/core/ids.js';
import { openLmdbStore } from '../../storage/index.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { runTool } from '../helpers/run-tool.js';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../helpers/test-server.js';

describe('tools: backup and restore', function () {
  this.timeout(180_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let root: string;

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
    ts = await startTestServer(engine);
    await addSyntheticFaces(ts.server.store, 4, engine.searchModel);
    await ts.server.store.createGroup(DEFAULT_LIBRARY, 'lobby' as GroupName);
  });
  beforeEach(function () {
    root = mkdtempSync(join(tmpdir(), 'backup-tool-'));
  });
  afterEach(function () {
    rmSync(root, { recursive: true, force: true });
  });
  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  async function expectRestorable(file: string): Promise<void> {
    const restored = await runTool('restore.ts', [file, '--data-dir', join(root, 'restored')]);
    expect(restored.code, restored.stderr).to.equal(0);
    const summary = JSON.parse(restored.stdout);
    expect(summary).to.include({ groups: 1 });
    expect(summary.files).to.include('store/data.mdb');
    const store = await openLmdbStore({ path: join(root, 'restored', 'store') });
    try {
      expect((await store.getGroup(DEFAULT_LIBRARY, 'lobby' as GroupName))!.version).to.equal(summary.versionBase);
    } finally {
      await store.close();
    }
  }

  it('takes a backup over HTTP (mode 0600, no .partial left) and restores it into a new data dir', async function () {
    const file = join(root, 'over-http.tar.gz');
    const run = await runTool('backup.ts', [file, '--url', ts.url, '--key', TEST_ADMIN_KEY]);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.equal({ file, bytes: statSync(file).size });
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(existsSync(`${file}.partial`)).to.equal(false);
    await expectRestorable(file);
  });

  it('takes a backup straight from the data dir while the server runs', async function () {
    const file = join(root, 'local.tar.gz');
    const run = await runTool('backup.ts', [file], { DATA_DIR: ts.dataDir });
    expect(run.code, run.stderr).to.equal(0);
    await expectRestorable(file);
  });

  it('says why it fails: wrong key, partial file, non-empty data dir', async function () {
    const file = join(root, 'x.tar.gz');
    const denied = await runTool('backup.ts', [file, '--url', ts.url, '--key', 'wrong-key-0123456789']);
    expect(denied.code).to.equal(2);
    expect(denied.stderr).to.match(/^backup: .*HTTP 401/);
    expect(existsSync(file)).to.equal(false);
    expect(existsSync(`${file}.partial`)).to.equal(false);

    const good = join(root, 'good.tar.gz');
    expect((await runTool('backup.ts', [good, '--url', ts.url, '--key', TEST_ADMIN_KEY])).code).to.equal(0);
    const bytes = readFileSync(good);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const partial = await runTool('restore.ts', [file, '--data-dir', join(root, 'r')]);
    expect(partial.code).to.equal(2);
    expect(partial.stderr).to.match(/^restore: the backup (file is damaged or incomplete|is incomplete)/);
    const occupied = await runTool('restore.ts', [good, '--data-dir', ts.dataDir]);
    expect(occupied.code).to.equal(2);
    expect(occupied.stderr).to.contain('is not empty');
  });
});
