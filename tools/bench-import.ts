// npm run bench:import [-- --photos 1000 --concurrency 4 --sample 40]
// The bulk import end to end: N staff photos made from the enrollable test
// photos (each a small crop, maybe a mirror image, a small brightness
// change, JPEG), imported by the real CLI (tools/import.ts, a child process)
// into an in-process server over HTTP. Baseline measured in the same run:
// the enrolment pipeline of bench:engine (decode, detect, quality, feature)
// on a sample of the same photos, one at a time on the server's engine,
// whose 1000 / ms-per-face is the bound on faces per second.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { FaceServer } from '../server/app.js';
import { benchServerConfig, machineInfo, machineLines, mean, positive } from './bench-common.js';
import { ENROLLABLE } from '../test/helpers/photos.js';
import { readPersonPhoto } from '../test/helpers/paths.js';
import { PROJECT_ROOT } from '../test/helpers/paths.js';

const { values } = parseArgs({
  options: {
    photos: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
    sample: { type: 'string', default: '40' },
  },
});
const count = positive('photos', values.photos);
const concurrency = positive('concurrency', values.concurrency);
const sample = Math.min(count, positive('sample', values.sample));

/** Photo i: person i mod 8, crop offset, mirror and brightness from i, framed as enrollablePhoto does. */
async function makePhoto(i: number): Promise<Buffer> {
  const [person, n] = ENROLLABLE[i % ENROLLABLE.length]!;
  const k = Math.floor(i / ENROLLABLE.length);
  const dx = (k * 7) % 13, dy = (k * 5) % 11; // crop 0..12 / 0..10 px off the 150 px original
  let face = sharp(readPersonPhoto(person, n)).extract({ left: dx, top: dy, width: 150 - 13, height: 150 - 11 }).resize(300, 300);
  if (k % 2 === 1) face = face.flop();
  const brightness = 0.92 + ((k * 3) % 17) / 100; // 0.92 .. 1.08
  const framed = await face.modulate({ brightness }).toBuffer();
  return sharp(framed).extend({ top: 200, bottom: 200, left: 200, right: 200, background: { r: 255, g: 255, b: 255 } }).jpeg({ quality: 90 }).toBuffer();
}

const root = mkdtempSync(join(tmpdir(), 'bench-import-'));
const folder = join(root, 'staff');
mkdirSync(folder);
const server = await FaceServer.start({ config: benchServerConfig(join(root, 'data')) });
try {
  for (const line of machineLines(machineInfo(root))) console.log(line);
  let t = performance.now();
  const photos: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const photo = await makePhoto(i);
    photos.push(photo);
    writeFileSync(join(folder, `S${String(i).padStart(5, '0')}.jpg`), photo);
  }
  console.log(`\n${count} photos made in ${((performance.now() - t) / 1000).toFixed(1)} s (${(mean(photos.map((p) => p.length)) / 1024).toFixed(0)} KiB each)`);

  // Baseline: the enrolment pipeline, one photo at a time (first one warms up).
  const engine = server.engine;
  const limits = server.config.faceAddImage;
  const perFace: number[] = [];
  for (let i = 0; i <= sample; i++) {
    const bytes = photos[i % photos.length]!;
    t = performance.now();
    const image = await engine.decode(bytes, limits);
    const [face] = await engine.detect(image);
    if (face) {
      await engine.quality(image, face);
      await engine.embed(image, face);
    }
    if (i > 0) perFace.push(performance.now() - t);
  }
  const boundPerSecond = 1000 / mean(perFace);
  console.log(`enrolment pipeline (bench:engine's stages), ${sample} photos one at a time: ${mean(perFace).toFixed(1)} ms per face -> bound ${boundPerSecond.toFixed(2)} faces/s`);

  t = performance.now();
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'tools', 'import.ts'), folder, '--group', 'bench_staff', '--url', server.url, '--key', server.keys.admin, '--concurrency', String(concurrency)],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
      process.stderr.write(c);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const wall = (performance.now() - t) / 1000;
  if (run.code !== 0) throw new Error(`import exited ${run.code}: ${run.stderr.slice(-500)}`);
  const summary = JSON.parse(run.stdout) as { enrolled: number; refused: number; failed: number; seconds: number; faces_per_second: number };
  console.log(`\nimport of ${count} photos, --concurrency ${concurrency}: enrolled ${summary.enrolled}, refused ${summary.refused}, failed ${summary.failed}`);
  console.log(`  ${summary.seconds.toFixed(1)} s in the tool (${wall.toFixed(1)} s with its start): ${summary.faces_per_second.toFixed(2)} faces/s`);
  console.log(`  ratio import / enrolment-pipeline bound: ${(summary.faces_per_second / boundPerSecond).toFixed(3)}`);

  t = performance.now();
  const again = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'tools', 'import.ts'), folder, '--group', 'bench_staff', '--url', server.url, '--key', server.keys.admin],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`re-run exited ${code}: ${stderr.slice(-500)}`))));
  });
  const resumed = JSON.parse(again) as { skipped: number; enrolled: number; seconds: number };
  console.log(`  re-run (everything already done): skipped ${resumed.skipped}, enrolled ${resumed.enrolled}, ${resumed.seconds.toFixed(1)} s`);
  console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(2)).join(', ')} (the machine is shared: numbers taken under load)`);
} finally {
  await server.close();
  rmSync(root, { recursive: true, force: true });
}
