// Runs the FaceStore contract suite against LmdbFaceStore, plus LMDB-specific
// checks (crash safety, listener error reporting, reopen with another clock).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaceToken } from '../../server/core/ids.js';
import { openLmdbStore, type LmdbStoreOptions } from '../../storage/index.js';
import type { FaceStore } from '../../storage/store.js';
import { durableTransaction, openEnvironment } from '../../storage/lmdb/durability.js';
import { openDatabases } from '../../storage/lmdb/layout.js';
import { runFaceStoreContract } from './store-contract.js';
import { addFaces, gname, lib } from './store-model.js';

const quiet: Pick<LmdbStoreOptions, 'onListenerError'> = { onListenerError: () => {} };

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'facestore-test-'));
}

runFaceStoreContract('LmdbFaceStore', async () => {
  const dir = await tempDir();
  let current: FaceStore = await openLmdbStore({ path: dir, ...quiet });
  return {
    store: current,
    reopen: async () => (current = await openLmdbStore({ path: dir, ...quiet })),
    openCopy: (copy: string) => openLmdbStore({ path: copy, ...quiet }),
    cleanup: async () => {
      await current.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LmdbFaceStore specifics', function () {
  let dir: string;
  beforeEach(async function () {
    dir = await tempDir();
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a throwing onCommit listener through onListenerError and keeps going', async function () {
    const errors: unknown[] = [];
    const store = await openLmdbStore({ path: dir, onListenerError: (error) => errors.push(error) });
    const seen: number[] = [];
    store.onCommit(() => {
      throw new Error('boom');
    });
    store.onCommit((c) => seen.push(c.change.version));
    await store.createGroup(lib('default'), gname('g'));
    await store.deleteGroup(lib('default'), gname('g'));
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['boom', 'boom']);
    expect(seen).to.deep.equal([1, 2]);
    await store.close();
  });

  it('counts the feature models of a store written before the counts existed, once, when it is opened', async function () {
    const store = await openLmdbStore({ path: dir, ...quiet });
    const tokens = await addFaces(store, lib('default'), 1, 3);
    await store.deleteFace(tokens[0]!);
    await store.close();
    // What an older version of the store left: no counts, no marker.
    const env = openEnvironment({ path: dir, commitDelay: 0, overlappingSync: false });
    const db = openDatabases(env);
    await durableTransaction(env, () => {
      for (const { key } of db.meta.getRange()) if (key.startsWith('featureModel')) db.meta.removeSync(key);
    });
    expect([...db.meta.getKeys()].filter((k) => k.startsWith('featureModel'))).to.deep.equal([]);
    await env.close();
    const reopened = await openLmdbStore({ path: dir, ...quiet });
    expect(await reopened.featureModels()).to.deep.equal(new Map([['test-model-1', 2]]));
    await reopened.close();
  });

  it('refuses a missing path', async function () {
    let failed = false;
    try {
      await openLmdbStore({ path: '' });
    } catch (error) {
      failed = (error as { code?: string }).code === 'INTERNAL';
    }
    expect(failed).to.equal(true);
  });

  it('stamps change times from the injected clock, never going backwards within a group', async function () {
    let now = 5_000;
    const store = await openLmdbStore({ path: dir, clock: () => now });
    const [a, b] = await addFaces(store, lib('default'), 1, 2);
    await store.createGroup(lib('default'), gname('g'));
    now = 4_000; // clock steps back
    const bound = await store.bind(lib('default'), gname('g'), a!);
    expect(bound!.change.at).to.equal(5_000);
    now = 6_000;
    expect((await store.bind(lib('default'), gname('g'), b!))!.change.at).to.equal(6_000);
    await store.close();
  });

  it('every acknowledged bind survives kill -9 of the writing process', async function () {
    this.timeout(30_000);
    const setup = await openLmdbStore({ path: dir });
    const tokens = await addFaces(setup, lib('default'), 1, 3000);
    await setup.createGroup(lib('default'), gname('crash'));
    await setup.close();

    const script = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acknowledged: Array<{ token: FaceToken; version: number }> = [];
    let buffered = '';
    const killed = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const [tag, token, version] = line.split(' ');
          if (tag === 'ACK') acknowledged.push({ token: token as FaceToken, version: Number(version) });
        }
        // Kill in the middle of the burst, with many binds in flight.
        if (acknowledged.length >= 400 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code) => (code === null ? resolve() : reject(new Error(`crash child exited early with ${code}`))));
    });
    expect(await killed).to.equal('SIGKILL');
    expect(acknowledged.length).to.be.greaterThan(0);

    const store = await openLmdbStore({ path: dir });
    const group = (await store.getGroup(lib('default'), gname('crash')))!;
    const snapshot = (await store.snapshotGroup(group.groupId))!;
    const bound = new Set(snapshot.bindings.map((b) => b.faceToken));
    const missing = acknowledged.filter((a) => !bound.has(a.token));
    expect(missing, 'acknowledged binds lost by the crash').to.deep.equal([]);
    const maxAcked = Math.max(...acknowledged.map((a) => a.version));
    expect(group.version).to.be.at.least(maxAcked);
    // The recovered state is a consistent commit: log, count and bindings agree.
    const log = await store.readChanges(group.groupId, { afterVersion: 0, limit: 100_000 });
    expect(log.map((c) => c.version)).to.deep.equal(Array.from({ length: group.version }, (_, i) => i + 1));
    expect(group.faceCount).to.equal(bound.size);
    expect(bound.size).to.equal(group.version - 1);
    expect(tokens.length).to.equal(3000);
    await store.close();
  });
});
