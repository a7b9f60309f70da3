import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { openLmdbStore } from '../../storage/index.js';
import type { FaceStore } from '../../storage/store.js';
import { defaultConfig } from '../../server/config.js';
import { FeatureMigration } from '../../server/core/feature-migration.js';
import { boxToRect } from '../../server/core/geometry.js';
import { newImageId } from '../../server/core/tokens.js';
import type { FaceToken } from '../../server/core/ids.js';
import { syntheticFace } from '../helpers/synthetic-faces.js';
import { enrollablePhoto } from '../helpers/photos.js';

describe('model upgrade: feature migration', function () {
  let engine: FaceEngine;
  let store: FaceStore;
  let dir: string;
  const limits = defaultConfig().faceAddImage;
  const migration = () => new FeatureMigration(engine, store, pino({ level: 'silent' }), limits);

  /** A face stored by an older model, with its real photo; `rect` defaults to where the face is. */
  async function storeOldFace(rect?: { left: number; top: number; right: number; bottom: number }) {
    const bytes = await enrollablePhoto('penny', 1);
    const image = await engine.decode(bytes, limits);
    const [detection] = await engine.detect(image);
    const imageId = newImageId();
    const face = { ...syntheticFace('feature-old', imageId), rect: rect ?? boxToRect(detection!.box, image.width, image.height) };
    await store.addImage({ imageId, mime: 'image/png', bytes, width: image.width, height: image.height, createdAt: Date.now() }, face);
    return { token: face.faceToken as FaceToken, expected: await engine.embed(image, detection!) };
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
  });
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'migration-'));
    store = await openLmdbStore({ path: dir });
  });
  afterEach(async function () {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  after(async function () {
    await engine?.close();
  });

  it('gives every face of another model the current model feature of the same face in its photo', async function () {
    const faces = [await storeOldFace(), await storeOldFace()];
    const result = await migration().run();
    expect(result.migrated).to.equal(2);
    expect(result.deleted).to.deep.equal([]);
    for (const { token, expected } of faces) {
      const face = (await store.getFace(token))!;
      expect(face.modelVersion).to.equal(engine.searchModel);
      expect(Array.from(face.feature)).to.deep.equal(Array.from(expected));
    }
    // Idempotent: nothing left to do.
    expect((await migration().run()).migrated).to.equal(0);
  });

  it('reads no face record when every stored feature is of the current model (the store counts them per model)', async function () {
    for (let i = 0; i < 3; i++) {
      const current = { ...syntheticFace(engine.searchModel), deletedAt: null };
      await store.addImage({ imageId: current.imageId, mime: 'image/png', bytes: new Uint8Array(8), width: 1, height: 1, createdAt: 0 }, current);
    }
    let scans = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'facesOfOtherModels') scans++;
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const result = await new FeatureMigration(engine, counting, pino({ level: 'silent' }), limits).run();
    expect(result.migrated).to.equal(0);
    expect(scans, 'facesOfOtherModels calls').to.equal(0);
    await storeOldFace();
    expect((await new FeatureMigration(engine, counting, pino({ level: 'silent' }), limits).run()).migrated).to.equal(1);
    expect(scans).to.be.greaterThan(0);
  });

  it('deletes, and names, a face its photo no longer shows; faces of the current model are left alone', async function () {
    const lost = await storeOldFace({ left: 0, top: 0, right: 60, bottom: 60 });
    const current = { ...syntheticFace(engine.searchModel), deletedAt: null };
    await store.addImage({ imageId: current.imageId, mime: 'image/png', bytes: new Uint8Array(8), width: 1, height: 1, createdAt: 0 }, current);
    const result = await migration().run();
    expect(result.deleted).to.deep.equal([lost.token]);
    expect((await store.getFace(lost.token))!.deletedAt).to.be.a('number');
    expect((await store.getFace(current.faceToken))!.feature).to.deep.equal(current.feature);
  });
});
