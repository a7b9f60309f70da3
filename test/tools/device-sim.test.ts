// tools/device-sim.ts run as a child process against a real server on port 0,
// seeded with synthetic faces written straight into the store.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import { PROJECT_ROOT } from '../helpers/paths.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { startTestServer, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const TOOL = join(PROJECT_ROOT, 'tools', 'device-sim.ts');
const GROUP = 'sim_lobby' as GroupName;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the tool to its end; `onStderr` sees each stderr chunk as it arrives. */
function sim(args: string[], onStderr: (text: string) => void = () => undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    // The timeout kills a hung child, so a failing test cannot leave it behind.
    const child = spawn(process.execPath, ['--import', 'tsx', TOOL, ...args], { cwd: PROJECT_ROOT, timeout: 90_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr(chunk.toString());
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on: one the OS just handed out and took back. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** The single JSON line the tool must print on stdout. */
function output(run: Run): Record<string, any> {
  expect(run.code, run.stderr).to.equal(0);
  const lines = run.stdout.split('\n').filter((line) => line !== '');
  expect(lines, 'stdout lines').to.have.length(1);
  return JSON.parse(lines[0]!);
}

describe('device-sim', function () {
  this.timeout(120_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let faces: FaceToken[];

  async function serverGroup() {
    const group = (await ts.server.store.getGroup(DEFAULT_LIBRARY, GROUP))!;
    const snapshot = (await ts.server.store.snapshotGroup(group.groupId))!;
    return { group_id: group.groupId, version: group.version, faces: snapshot.bindings.length };
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    faces = (await addSyntheticFaces(ts.server.store, 5, engine.searchModel)).map((face) => face.faceToken);
    await ts.server.store.createGroup(DEFAULT_LIBRARY, GROUP);
    for (const token of faces.slice(0, 3)) await ts.server.store.bind(DEFAULT_LIBRARY, GROUP, token);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('--once prints the group id, version and face count the server has, and the bytes received', async function () {
    const result = output(await sim(['--url', ts.url, '--key', TEST_DEVICE_KEY, '--group', GROUP, '--once']));
    expect(result.groups).to.deep.equal({ [GROUP]: await serverGroup() });
    expect(result.groups[GROUP].faces).to.equal(3);
    expect(result.bytes).to.be.a('number').above(0);
  });

  it('--once reports zeros for a group the server does not have', async function () {
    const args = ['--url', ts.url, '--key', TEST_DEVICE_KEY, '--group', 'sim_nowhere', '--group', GROUP, '--once', '--encoding', 'int8'];
    const result = output(await sim(args));
    expect(result.groups.sim_nowhere).to.deep.equal({ group_id: 0, version: 0, faces: 0 });
    expect(result.groups[GROUP]).to.deep.equal(await serverGroup());
  });

  it('exits non-zero with a message, printing nothing on stdout, on bad arguments', async function () {
    const common = ['--url', ts.url, '--key', TEST_DEVICE_KEY];
    const cases: Array<[string[], RegExp]> = [
      [['--key', TEST_DEVICE_KEY, '--group', GROUP, '--once'], /--url is required/],
      [['--url', ts.url, '--group', GROUP, '--once'], /--key is required/],
      [[...common, '--once'], /--group is required/],
      [[...common, '--group', GROUP], /exactly one of --once and --devices/],
      [[...common, '--group', GROUP, '--once', '--devices', '2', '--seconds', '1'], /exactly one of --once and --devices/],
      [[...common, '--group', GROUP, '--devices', '2'], /--devices needs --seconds/],
      [[...common, '--group', GROUP, '--devices', '0', '--seconds', '1'], /--devices must be a positive integer/],
      [[...common, '--group', GROUP, '--once', '--encoding', 'float64'], /--encoding must be one of/],
      [[...common, '--group', GROUP, '--once', '--bogus'], /Unknown option '--bogus'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => sim(args)));
    runs.forEach((run, i) => {
      expect(run.code, cases[i]![0].join(' ')).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.match(cases[i]![1]).and.to.include('usage:');
    });
  });

  it('exits non-zero with a message when the key is refused or the server is unreachable', async function () {
    const [refused, unreachable] = await Promise.all([
      sim(['--url', ts.url, '--key', 'wrong-key-wrong-key', '--group', GROUP, '--once']),
      sim(['--url', `http://127.0.0.1:${await closedPort()}`, '--key', TEST_DEVICE_KEY, '--group', GROUP, '--once']),
    ]);
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.equal('');
    expect(refused.stderr).to.match(/HTTP 401.*check --key/);
    expect(unreachable.code).to.equal(1);
    expect(unreachable.stdout).to.equal('');
    expect(unreachable.stderr).to.match(/ECONNREFUSED/);
  });

  it('--devices with --change-every makes changes and measures how long they take to reach every device', async function () {
    const before = await serverGroup();
    const args = ['--url', ts.url, '--key', TEST_ADMIN_KEY, '--group', GROUP, '--devices', '3', '--seconds', '3', '--change-every', '500'];
    const result = output(await sim(args));
    expect(result).to.include({ devices: 3, seconds: 3, incomplete: 0, errors: 0 });
    expect(result.changes).to.be.at.least(2);
    expect(result.latency_ms.p50).to.be.above(0);
    expect(result.latency_ms.p99).to.be.at.least(result.latency_ms.p50);
    expect(result.latency_ms.max).to.be.at.least(result.latency_ms.p99);
    // Every device syncs on connect, and again for each change.
    expect(result.syncs).to.be.at.least(3 + 3 * 2);
    expect(result.bytes).to.be.above(0);
    // The face is bound again at the end: each change is one version, plus the rebind if needed.
    const after = await serverGroup();
    expect(after.faces).to.equal(before.faces);
    expect(after.version - before.version).to.be.within(result.changes, result.changes + 1);
  });

  it('--devices without --change-every measures changes made by somebody else from their first notice', async function () {
    const args = ['--url', ts.url, '--key', TEST_DEVICE_KEY, '--group', GROUP, '--devices', '2', '--seconds', '2'];
    let changing: Promise<void> | undefined;
    const run = await sim(args, (text) => {
      if (!changing && text.includes('measuring')) {
        changing = (async () => {
          for (const token of faces.slice(3, 5)) {
            await ts.server.store.bind(DEFAULT_LIBRARY, GROUP, token);
            await new Promise((resolve) => setTimeout(resolve, 300));
          }
        })();
      }
    });
    await changing;
    const result = output(run);
    expect(result).to.include({ devices: 2, seconds: 2, changes: 2, incomplete: 0, errors: 0 });
    expect(result.latency_ms.p50).to.be.above(0);
  });
});
