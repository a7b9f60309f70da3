import { expect } from 'chai';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxEngine, ModelIntegrityError } from '../../models/index.js';
import { MODEL_DIR } from './fixtures.js';

/** A model folder of symlinks to the real files, with its own manifest copy. */
function linkedModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'face-models-test-'));
  for (const name of readdirSync(MODEL_DIR)) {
    if (name === 'manifest.json') copyFileSync(join(MODEL_DIR, name), join(dir, name));
    else symlinkSync(join(MODEL_DIR, name), join(dir, name));
  }
  return dir;
}

async function startError(modelDir: string): Promise<ModelIntegrityError> {
  const err = await createOnnxEngine({ modelDir, warmUp: false }).then(async (engine) => {
    await engine.close();
    return undefined;
  }, (e: unknown) => e);
  expect(err, 'engine should refuse to start').to.be.instanceOf(ModelIntegrityError);
  return err as ModelIntegrityError;
}

describe('model manifest check', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const dir = linkedModelDir();
    dirs.push(dir);
    return dir;
  };

  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('starts from a folder of symlinks to intact files', async () => {
    const engine = await createOnnxEngine({ modelDir: fresh(), warmUp: false, intraOpThreads: 1 });
    expect(engine.modelVersions.feature).to.match(/^feature-[0-9a-f]{12}$/);
    await engine.close();
  });

  it('refuses to start when a model file differs from its sha256, naming the file', async () => {
    const dir = fresh();
    // Same size, one byte changed: only the hash can tell.
    const bytes = readFileSync(join(MODEL_DIR, 'fr_landmark.onnx'));
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 0xff;
    unlinkSync(join(dir, 'fr_landmark.onnx'));
    writeFileSync(join(dir, 'fr_landmark.onnx'), bytes);
    const err = await startError(dir);
    expect(err.file).to.equal(join(dir, 'fr_landmark.onnx'));
    expect(err.message).to.contain('fr_landmark.onnx').and.contain('sha256');
  });

  it('refuses to start when a model file is missing or truncated', async () => {
    const missing = fresh();
    unlinkSync(join(missing, 'fr_eye.onnx'));
    expect((await startError(missing)).message).to.contain('fr_eye.onnx').and.contain('missing');

    const truncated = fresh();
    const bytes = readFileSync(join(MODEL_DIR, 'fr_eye.onnx'));
    unlinkSync(join(truncated, 'fr_eye.onnx'));
    writeFileSync(join(truncated, 'fr_eye.onnx'), bytes.subarray(0, 1000));
    expect((await startError(truncated)).message).to.contain('fr_eye.onnx');
  });

  it('refuses to start without a manifest, or when it does not list a model', async () => {
    const noManifest = fresh();
    unlinkSync(join(noManifest, 'manifest.json'));
    expect((await startError(noManifest)).message).to.contain('manifest.json');

    const unlisted = fresh();
    const manifest = JSON.parse(readFileSync(join(unlisted, 'manifest.json'), 'utf8'));
    delete manifest.files['fr_feature.onnx'];
    writeFileSync(join(unlisted, 'manifest.json'), JSON.stringify(manifest));
    expect((await startError(unlisted)).message).to.contain('fr_feature.onnx').and.contain('not listed');
  });
});
