import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FACES_DIR, PROJECT_ROOT } from './fixtures.js';

const run = promisify(execFile);

function analyze(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'tools', 'analyze.ts'), ...args], { cwd: PROJECT_ROOT })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (err: { code: number; stdout: string; stderr: string }) => err);
}

describe('tools/analyze.ts', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'analyze-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one JSON object with every face, largest first, and timings', async () => {
    const { code, stdout } = await analyze(join(FACES_DIR, 'scenes', 'bbt3.jpg'));
    expect(code).to.equal(0);
    const result = JSON.parse(stdout);
    expect([result.width, result.height]).to.deep.equal([594, 383]);
    expect(result.faces).to.have.length(5);
    const face = result.faces[0];
    expect(face).to.have.all.keys('box', 'score', 'rotation_searched', 'landmarks', 'quality', 'liveness', 'age', 'gender', 'expression', 'eyes');
    expect(Math.abs(face.rotation_searched % 45)).to.equal(0);
    expect(face.box).to.have.all.keys('left', 'top', 'width', 'height');
    expect(face.landmarks).to.have.length(68);
    expect(face.quality).to.have.all.keys('yaw', 'pitch', 'roll', 'blur', 'brightness', 'brightness_std', 'size', 'completeness');
    const areas = result.faces.map((f: { box: { width: number; height: number } }) => f.box.width * f.box.height);
    expect(areas).to.deep.equal([...areas].sort((a, b) => b - a));
    expect(result.timings_ms).to.include.keys('decode', 'detect', 'detect_passes', 'searched_rotations', 'landmarks', 'total');
  });

  it('exits with code 2 and a one-line error for a bad image', async () => {
    const bad = join(dir, 'truncated.jpg');
    writeFileSync(bad, readFileSync(join(FACES_DIR, 'scenes', 'sad.jpg')).subarray(0, 2000));
    const { code, stdout, stderr } = await analyze(bad);
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.contain('UNSUPPORTED_IMAGE_FORMAT');
  });
});
