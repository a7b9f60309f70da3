import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { openLmdbStore } from '../../storage/index.js';
import { FaceServer } from '../../server/app.js';
import { boxToRect } from '../../server/core/geometry.js';
import { newImageId } from '../../server/core/tokens.js';
import { syntheticFace } from '../helpers/synthetic-faces.js';
import { enrollablePhoto } from '../helpers/photos.js';
import { testConfig } from '../helpers/test-server.js';

describe('health and readiness', function () {
  this.timeout(120_000);
  let engine: FaceEngine;
  let dataDir: string;

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
  });
  beforeEach(function () {
    dataDir = mkdtempSync(join(tmpdir(), 'health-'));
  });
  afterEach(function () {
    rmSync(dataDir, { recursive: true, force: true });
  });
  after(async function () {
    await engine?.close();
  });

  it('answers /healthz and /readyz without a key and without data; 405 for other methods', async function () {
    const server = await FaceServer.start({ config: testConfig(dataDir), engine });
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).to.equal(200);
      expect(await health.json()).to.deep.equal({ status: 'ok' });
      const ready = await fetch(`${server.url}/readyz?verbose=1`);
      expect(ready.status).to.equal(200);
      expect(await ready.json()).to.deep.equal({ status: 'ready' });
      expect((await fetch(`${server.url}/readyz`, { method: 'HEAD' })).status).to.equal(200);
      const post = await fetch(`${server.url}/healthz`, { method: 'POST' });
      expect(post.status).to.equal(405);
      expect(post.headers.get('allow')).to.equal('GET, HEAD');
    } finally {
      await server.close();
    }
  });

  it('is ready and serves at once while a model upgrade re-extracts in the background (no window in which it is down)', async function () {
    // A face of an older model, so the upgrade re-extracts it; the engine's work (analyze, or embed) waits for a gate.
    const store = await openLmdbStore({ path: join(dataDir, 'store') });
    const bytes = await enrollablePhoto('penny', 1);
    const image = await engine.decode(bytes, testConfig(dataDir).faceAddImage);
    const [detection] = await engine.detect(image);
    const imageId = newImageId();
    const face = { ...syntheticFace('feature-old', imageId), rect: boxToRect(detection!.box, image.width, image.height) };
    await store.addImage({ imageId, mime: 'image/png', bytes, width: image.width, height: image.height, createdAt: Date.now() }, face);
    await store.close();

    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let embedding!: () => void;
    const embedStarted = new Promise<void>((resolve) => (embedding = resolve));
    const gated = new Proxy(engine, {
      get(target, property) {
        if (property === 'embed' || property === 'analyze') {
          return async (...args: unknown[]) => {
            embedding();
            await gate;
            return (target[property] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    const server = await FaceServer.start({ config: testConfig(dataDir), engine: gated });
    try {
      await embedStarted;
      expect(server.modelUpgrade.progress).to.include({ phase: 'running', done: 0, total: 1 });
      expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
      expect((await fetch(`${server.url}/readyz`)).status).to.equal(200);
      expect((await fetch(`${server.url}/api/group/v1/list`)).status).to.equal(401);
      open();
      await server.modelUpgrade.start();
      expect(server.modelUpgrade.progress).to.include({ phase: 'done', done: 1, total: 1 });
    } finally {
      await server.close();
    }
    expect(server.readiness.reason).to.equal('shutting down');
  });
});
