// tools/import.ts as a child process against a real server (real engine, real photos).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { DEFAULT_LIBRARY, type GroupName } from '../../server/core/ids.js';
import type { ReportLine } from '../../tools/import/report.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { enrollablePhoto } from '../helpers/photos.js';
import { runTool } from '../helpers/run-tool.js';
import { startTestServer, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const readReport = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ReportLine);

describe('tools: import', function () {
  this.timeout(300_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let root: string;

  const importArgs = (input: string, group: string, ...more: string[]) => [input, '--group', group, '--url', ts.url, '--key', TEST_ADMIN_KEY, ...more];
  const bound = async (group: string) => {
    const record = await ts.server.store.getGroup(DEFAULT_LIBRARY, group as GroupName);
    return record ? (await ts.server.store.snapshotGroup(record.groupId))!.bindings.map((b) => b.faceToken).sort() : [];
  };

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
    ts = await startTestServer(engine);
  });
  beforeEach(function () {
    root = mkdtempSync(join(tmpdir(), 'import-tool-'));
  });
  afterEach(function () {
    rmSync(root, { recursive: true, force: true });
  });
  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('enrols a folder (user id = file name), reports refusals with reasons and duplicates, and a re-run skips what is done', async function () {
    const folder = join(root, 'staff');
    mkdirSync(folder);
    writeFileSync(join(folder, 'E001.png'), await enrollablePhoto('amy', 2));
    writeFileSync(join(folder, 'E002.png'), await enrollablePhoto('penny', 2));
    writeFileSync(join(folder, 'E003.png'), await enrollablePhoto('howard', 4));
    writeFileSync(join(folder, 'E004.png'), await sharp({ create: { width: 400, height: 400, channels: 3, background: { r: 250, g: 250, b: 250 } } }).png().toBuffer());
    copyFileSync(join(folder, 'E001.png'), join(folder, 'E005.png'));
    writeFileSync(join(folder, 'notes.txt'), 'not a photo');

    const first = await runTool('import.ts', importArgs(folder, 'staff_a', '--concurrency', '2'));
    expect(first.code, first.stderr).to.equal(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).to.include({ total: 5, done: 5, enrolled: 3, refused: 1, failed: 0, duplicate: 1, report: `${folder}.import.jsonl` });
    expect(summary.faces_per_second).to.be.greaterThan(0);
    // Not a TTY: plain progress lines with the rate and the time left.
    expect(first.stderr).to.match(/^import: 5\/5 \(100%\) enrolled 3, refused 1, failed 0, skipped 1; [\d.]+ faces\/s, 0s left$/m);

    const lines = readReport(summary.report);
    const byUser = new Map(lines.map((line) => [line.user_id, line]));
    const enrolled = ['E001', 'E002', 'E003'].map((user) => byUser.get(user)!);
    for (const line of enrolled) expect(line).to.include({ status: 'enrolled', group: 'staff_a', bound: true }).and.to.have.property('face_token');
    expect(byUser.get('E004')).to.include({ status: 'refused', code: 104200 });
    expect(byUser.get('E004')!.reasons).to.deep.equal(['FACE_NOT_FOUND']);
    expect(byUser.get('E005')).to.include({ status: 'duplicate', same_as: join(folder, 'E001.png'), sha256: byUser.get('E001')!.sha256 });
    expect(await bound('staff_a')).to.deep.equal(enrolled.map((line) => line.face_token).sort());

    const again = await runTool('import.ts', importArgs(folder, 'staff_a'));
    expect(again.code, again.stderr).to.equal(0);
    expect(JSON.parse(again.stdout)).to.include({ total: 5, enrolled: 0, refused: 0, failed: 0, skipped: 5 });
    expect(readReport(summary.report).filter((line) => line.status !== 'duplicate')).to.have.length(4);
    expect(await bound('staff_a')).to.have.length(3);
  });

  it('resumes a photo that was added but not bound by binding its token, without uploading it again', async function () {
    const folder = join(root, 'late');
    mkdirSync(folder);
    const photo = await enrollablePhoto('leonard', 1);
    writeFileSync(join(folder, 'L1.png'), photo);
    const admin = new FacePassClient(ts.url);
    const added = await admin.addFace(photo);
    expect(added.code).to.equal(0);
    const report = join(root, 'late-report.jsonl');
    const interrupted: ReportLine = {
      path: join(folder, 'L1.png'),
      sha256: createHash('sha256').update(photo).digest('hex'),
      user_id: 'L1',
      group: 'staff_b',
      status: 'failed',
      face_token: added.data.face_token!,
      bound: false,
      at: new Date().toISOString(),
    };
    writeFileSync(report, JSON.stringify(interrupted) + '\n');
    appendFileSync(report, '{"path": "cut off by a cra'); // a crash mid-line is tolerated

    const run = await runTool('import.ts', importArgs(folder, 'staff_b', '--report', report));
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.include({ enrolled: 1 });
    expect(await bound('staff_b')).to.deep.equal([added.data.face_token]);
  });

  it('--dialect baidu stores user_id and user_info with the face, and adding the same photos again changes nothing', async function () {
    mkdirSync(join(root, 'photos'));
    writeFileSync(join(root, 'photos', 'r.png'), await enrollablePhoto('raj', 1));
    writeFileSync(join(root, 'photos', 's.png'), await enrollablePhoto('sheldon', 1));
    const csv = join(root, 'staff.csv');
    writeFileSync(csv, 'photos/r.png,raj_k,"Raj, lab 2"\nphotos/s.png,sheldon_c,\n');
    const run = await runTool('import.ts', importArgs(csv, 'staff_d', '--dialect', 'baidu'));
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.include({ enrolled: 2, failed: 0 });
    const group = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'staff_d' as GroupName))!;
    const bindings = (await ts.server.store.snapshotGroup(group.groupId))!.bindings;
    expect(bindings.map((b) => [b.userId, b.userInfo ?? '']).sort()).to.deep.equal([['raj_k', 'Raj, lab 2'], ['sheldon_c', '']]);

    // Without the report the photos go up again: same bytes, same tokens, nothing new on the server.
    rmSync(`${csv}.import.jsonl`);
    const again = await runTool('import.ts', importArgs(csv, 'staff_d', '--dialect', 'baidu'));
    expect(again.code, again.stderr).to.equal(0);
    expect(JSON.parse(again.stdout)).to.include({ enrolled: 2, failed: 0 });
    expect(readReport(`${csv}.import.jsonl`).map((line) => line.message)).to.deep.equal(['already in the group', 'already in the group']);
    expect((await ts.server.store.snapshotGroup(group.groupId))!.bindings).to.deep.equal(bindings);
  });

  it('takes user ids and user info from a CSV, and says which line or setting is wrong', async function () {
    mkdirSync(join(root, 'photos'));
    writeFileSync(join(root, 'photos', 'p.png'), await enrollablePhoto('penny', 1));
    const csv = join(root, 'staff.csv');
    writeFileSync(csv, 'path,user_id,user_info\nphotos/p.png,42,"Penny, front desk"\n');
    const run = await runTool('import.ts', importArgs(csv, 'staff_c'));
    expect(run.code, run.stderr).to.equal(0);
    const [line] = readReport(`${csv}.import.jsonl`);
    expect(line).to.include({ status: 'enrolled', user_id: '42', user_info: 'Penny, front desk' });

    writeFileSync(csv, 'path,user_id\nphotos/p.png\n');
    const bad = await runTool('import.ts', importArgs(csv, 'staff_c'));
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('staff.csv line 2: needs path,user_id[,user_info]');

    const badGroup = await runTool('import.ts', importArgs(csv, 'x'));
    expect(badGroup.code).to.equal(2);
    expect(badGroup.stderr).to.contain('--group must match');

    const denied = await runTool('import.ts', [join(root, 'photos'), '--group', 'staff_c', '--url', ts.url, '--key', TEST_DEVICE_KEY]);
    expect(denied.code).to.equal(2);
    expect(denied.stderr).to.contain('HTTP 401');
  });
});
