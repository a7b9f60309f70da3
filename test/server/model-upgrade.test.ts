import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { ErrorCode, FaceError } from '../../models/errors.js';
import { openLmdbStore } from '../../storage/index.js';
import type { FaceStore } from '../../storage/store.js';
import { defaultConfig } from '../../server/config.js';
import { ModelUpgrade, type ModelUpgradeOptions } from '../../server/core/model-upgrade.js';
import { boxToRect } from '../../server/core/geometry.js';
import { newImageId } from '../../server/core/tokens.js';
import type { FaceToken } from '../../server/core/ids.js';
import { syntheticFace } from '../helpers/synthetic-faces.js';
import { enrollablePhoto } from '../helpers/photos.js';

describe('model upgrade in the background (store and core)', function () {
  let engine: FaceEngine;
  let store: FaceStore;
  let dir: string;
  const limits = defaultConfig().faceAddImage;
  const silent = pino({ level: 'silent' });
  const open = (options: ModelUpgradeOptions = {}, on: FaceEngine = engine, s: FaceStore = store) =>
    ModelUpgrade.open(on, s, silent, limits, { retryMs: 1, ...options });

  /** A face stored by an older model, with its real photo; `rect` defaults to where the face is. */
  async function storeOldFace(rect?: { left: number; top: number; right: number; bottom: number }) {
    const bytes = await enrollablePhoto('penny', 1);
    const image = await engine.decode(bytes, limits);
    const [detection] = await engine.detect(image);
    const imageId = newImageId();
    const face = { ...syntheticFace('feature-old', imageId), rect: rect ?? boxToRect(detection!.box, image.width, image.height) };
    await store.addImage({ imageId, mime: 'image/png', bytes, width: image.width, height: image.height, createdAt: Date.now() }, face);
    return { token: face.faceToken as FaceToken, old: face.feature, expected: await engine.embed(image, detection!) };
  }

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2, warmUp: false });
  });
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'upgrade-'));
    store = await openLmdbStore({ path: dir });
  });
  afterEach(async function () {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  after(async function () {
    await engine?.close();
  });

  it('serves the old features until one switch, then the new ones of the same faces, bit for bit', async function () {
    const faces = [await storeOldFace(), await storeOldFace()];
    const upgrade = await open();
    expect(upgrade.upgrading).to.equal(true);
    expect(upgrade.servedModel).to.equal('feature-old');
    // Nothing served changes before the switch.
    for (const { token, old } of faces) expect(Array.from((await store.getFace(token))!.feature)).to.deep.equal(Array.from(old));
    await upgrade.start();
    expect(upgrade.servedModel).to.equal(engine.searchModel);
    expect(upgrade.progress).to.include({ phase: 'done', done: 2, total: 2, failed: 0 });
    for (const { token, expected } of faces) {
      const face = (await store.getFace(token))!;
      expect(face.modelVersion).to.equal(engine.searchModel);
      expect(Array.from(face.feature)).to.deep.equal(Array.from(expected));
    }
    expect(await store.featureModels()).to.deep.equal(new Map([[engine.searchModel, 2]]));
    expect(await store.servedFeatureModel()).to.equal(engine.searchModel);
    expect(await store.featureUpgrade()).to.equal(undefined);
    // Idempotent: nothing left to do.
    expect((await open()).upgrading).to.equal(false);
  });

  it('reads no face record when every stored feature is of the current model (the store counts them per model)', async function () {
    for (let i = 0; i < 3; i++) {
      const current = { ...syntheticFace(engine.searchModel), deletedAt: null };
      await store.addImage({ imageId: current.imageId, mime: 'image/png', bytes: new Uint8Array(8), width: 1, height: 1, createdAt: 0 }, current);
    }
    let scans = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'facesToUpgrade' || prop === 'facesOfOtherModels' || prop === 'getFaces') scans++;
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const upgrade = await open({}, engine, counting);
    expect(upgrade.upgrading).to.equal(false);
    await upgrade.start();
    expect(scans, 'face scans').to.equal(0);
  });

  it('keeps, names and counts a face its photo no longer shows: no feature after the switch, bindings kept', async function () {
    const lost = await storeOldFace({ left: 0, top: 0, right: 60, bottom: 60 });
    const kept = await storeOldFace();
    await store.createGroup('default' as never, 'g' as never);
    await store.bind('default' as never, 'g' as never, lost.token);
    const upgrade = await open();
    await upgrade.start();
    expect(upgrade.progress).to.include({ phase: 'done', failed: 1, total: 2 });
    const face = (await store.getFace(lost.token))!;
    expect(face.deletedAt).to.equal(null);
    expect(face.feature.length).to.equal(0);
    expect(face.modelVersion).to.equal('');
    expect((await store.groupsOfFace(lost.token)).map((g) => g.name)).to.deep.equal(['g']);
    expect(Array.from((await store.getFace(kept.token))!.feature)).to.deep.equal(Array.from(kept.expected));
    // A face without a feature does not start another upgrade.
    expect(await store.featureModels()).to.deep.equal(new Map([[engine.searchModel, 1]]));
    expect((await open()).upgrading).to.equal(false);
  });

  it('stores a face enrolled during the upgrade beside the served ones, and switches it with the others', async function () {
    await storeOldFace();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const upgrade = await open({ gate: () => held });
    const running = upgrade.start();
    const fresh = { ...syntheticFace(engine.searchModel), deletedAt: null };
    await store.addImage({ imageId: fresh.imageId, mime: 'image/png', bytes: new Uint8Array(8), width: 1, height: 1, createdAt: 0 }, fresh);
    // Served: none yet (terminals on the old model get a zero feature); the search reads the new one.
    expect((await store.getFace(fresh.faceToken))!.feature.length).to.equal(0);
    const search = upgrade.searchFeatures(store);
    expect(Array.from((await search.getFeatures([fresh.faceToken]))[0]!)).to.deep.equal(Array.from(fresh.feature));
    expect(upgrade.servedModel).to.equal('feature-old');
    release();
    await running;
    expect(Array.from((await store.getFace(fresh.faceToken))!.feature)).to.deep.equal(Array.from(fresh.feature));
    expect(await store.featureModels()).to.deep.equal(new Map([[engine.searchModel, 2]]));
  });

  it('re-extracts faces added with an old feature during the upgrade before it switches', async function () {
    await storeOldFace();
    let late: Awaited<ReturnType<typeof storeOldFace>> | undefined;
    let first = true;
    const upgrade = await open({
      gate: async () => {
        if (!first) return;
        first = false;
        late = await storeOldFace();
      },
    });
    await upgrade.start();
    expect(upgrade.progress).to.include({ phase: 'done', total: 2, done: 2 });
    expect(Array.from((await store.getFace(late!.token))!.feature)).to.deep.equal(Array.from(late!.expected));
  });

  it('retries while the engine pool is busy, never failing a face for it', async function () {
    const face = await storeOldFace();
    let refusals = 3;
    const busy: FaceEngine = {
      ...engine,
      searchModel: engine.searchModel,
      analyze: async (bytes, request) => {
        if (refusals-- > 0) throw new FaceError(ErrorCode.Busy, 'queue full');
        return engine.analyze(bytes, request);
      },
    };
    const upgrade = await open({}, busy);
    await upgrade.start();
    expect(upgrade.progress).to.include({ phase: 'done', failed: 0, retries: 3 });
    expect(Array.from((await store.getFace(face.token))!.feature)).to.deep.equal(Array.from(face.expected));
  });

  it('resumes after a restart where it stopped, serving only the old features until the switch', async function () {
    const faces = [await storeOldFace(), await storeOldFace(), await storeOldFace()];
    let passes = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = await open({ gate: () => (passes++ < 1 ? Promise.resolve() : held) });
    const running = first.start();
    while ((await store.featureUpgrade())!.staged < 1) await new Promise((r) => setImmediate(r));
    await first.close();
    await running;
    release();
    await store.close();
    // "Crash": reopen the same directory.
    store = await openLmdbStore({ path: dir });
    const state = (await store.featureUpgrade())!;
    expect(state).to.include({ from: 'feature-old', to: engine.searchModel, staged: 1, total: 3 });
    for (const { token, old } of faces) expect(Array.from((await store.getFace(token))!.feature)).to.deep.equal(Array.from(old));
    let extracted = 0;
    const second = await open({ gate: async () => void extracted++ });
    expect(second.servedModel).to.equal('feature-old');
    expect(second.progress).to.include({ phase: 'running', done: 1, total: 3 });
    await second.start();
    expect(extracted, 'faces re-extracted after the restart').to.equal(2);
    for (const { token, expected } of faces) expect(Array.from((await store.getFace(token))!.feature)).to.deep.equal(Array.from(expected));
  });

  it('drops the staged features of an abandoned target when the model changes again', async function () {
    const face = await storeOldFace();
    await store.beginFeatureUpgrade('feature-abandoned', 'feature-old');
    expect(await store.stageFeature(face.token, 'feature-abandoned', new Float32Array(512).fill(0.01))).to.equal(true);
    expect(await store.stageFeature(face.token, 'feature-other', new Float32Array(512)), 'not the running upgrade').to.equal(false);
    const upgrade = await open();
    expect(upgrade.servedModel).to.equal('feature-old');
    expect(upgrade.progress).to.include({ done: 0, total: 1 });
    await upgrade.start();
    expect(Array.from((await store.getFace(face.token))!.feature)).to.deep.equal(Array.from(face.expected));
  });
});
