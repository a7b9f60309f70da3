import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openLmdbStore } from '../../storage/index.js';
import { searchModelOf } from '../../models/index.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { PROJECT_ROOT } from '../helpers/paths.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { TEST_ADMIN_KEY, TEST_DEVICE_KEY } from '../helpers/test-server.js';

/** Starts `npm start`'s entry in a child process; resolves with its base URL once it serves. */
function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_KEY: TEST_ADMIN_KEY, DEVICE_KEY: TEST_DEVICE_KEY, LOG_LEVEL: 'info', ENGINE_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'serving' && entry.url) resolve({ child, url: entry.url.replace('0.0.0.0', '127.0.0.1') });
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before serving`)));
  });
}

describe('FacePass durability', function () {
  this.timeout(120_000);
  let dataDir: string;
  let child: ChildProcess | undefined;

  before(function () {
    dataDir = mkdtempSync(join(tmpdir(), 'face-crash-test-'));
  });

  after(function () {
    child?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged bind after SIGKILL during a burst', async function () {
    const groups = Array.from({ length: 20 }, (_, i) => `crash_group_${i}` as GroupName);
    const setup = await openLmdbStore({ path: join(dataDir, 'store') });
    // Written as the installed model's faces: the server would otherwise re-extract them (model upgrade) from photos they do not have.
    const faces = await addSyntheticFaces(setup, 30, await searchModelOf());
    for (const name of groups) await setup.createGroup(DEFAULT_LIBRARY, name);
    await setup.close();

    const started = await startChild(dataDir);
    child = started.child;
    const client = new FacePassClient(started.url);
    const acknowledged: Array<[GroupName, FaceToken]> = [];
    const pairs = groups.flatMap((group) => faces.map((face) => [group, face.faceToken] as [GroupName, FaceToken]));

    // Keep 16 binds in flight; kill the server once 150 have been acknowledged.
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < pairs.length && !killed) {
        const [group_name, face_token] = pairs[next++]!;
        try {
          const res = await client.post('/api/group/v1/bind', { group_name, face_token });
          if (res.code === 0) acknowledged.push([group_name, face_token]);
          if (acknowledged.length >= 150 && !killed) {
            killed = true;
            child!.kill('SIGKILL');
          }
        } catch {
          // connection cut by the kill: not acknowledged
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await new Promise((resolve) => (child!.exitCode !== null || child!.signalCode ? resolve(null) : child!.once('exit', resolve)));
    child = undefined;
    expect(killed).to.equal(true);

    // Restart the server on the same data and read every group back over HTTP.
    const restarted = await startChild(dataDir);
    child = restarted.child;
    const after = new FacePassClient(restarted.url);
    const boundNow = new Map<string, Set<string>>();
    for (const name of groups) {
      const res = await after.post<{ faces: string[] }>('/api/group/v1/query', { group_name: name });
      expect(res.code).to.equal(0);
      boundNow.set(name, new Set(res.data.faces));
    }
    for (const [name, token] of acknowledged) {
      expect(boundNow.get(name)!.has(token), `${name} lost ${token}`).to.equal(true);
    }
    child.kill('SIGTERM');
  });
});
