import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { getPriority, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxEngine, createPooledEngine, cosineSimilarity, type OnnxFaceEngine, type PooledFaceEngine } from '../../models/index.js';
import { LIMITS, MODEL_DIR, PEOPLE_PHOTOS, scene } from './fixtures.js';

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name;
  }
};

describe('PooledFaceEngine', function () {
  this.timeout(180_000);
  let pool: PooledFaceEngine;
  let local: OnnxFaceEngine;
  let mainNice: number;
  before(async () => {
    mainNice = getPriority();
    pool = await createPooledEngine({ workers: 2, intraOpThreads: 1, maxQueue: 2, nice: 15 });
    local = await createOnnxEngine({ intraOpThreads: 1 });
  });
  after(async () => {
    await pool.close();
    await local.close();
  });

  it('names the same models as an engine on the main thread', () => {
    expect(pool.searchModel).to.equal(local.searchModel);
    expect(pool.modelVersions).to.deep.equal(local.modelVersions);
    expect(pool.featureLength).to.equal(512);
  });

  it('lowers the priority of its worker threads only (Linux), not of the event loop', function () {
    if (platform() !== 'linux') this.skip();
    expect(pool.stats().nice).to.equal(Math.max(15, mainNice));
    expect(getPriority()).to.equal(mainNice);
  });

  it('reports each worker\'s JS memory, sampled with its replies', async () => {
    await pool.analyze(scene('bbt4.jpg'), { limits: LIMITS, feature: true });
    const memory = pool.workerMemory();
    expect(memory.length).to.be.within(1, 2);
    expect(new Set(memory.map((m) => m.worker)).size).to.equal(memory.length);
    for (const m of memory) {
      expect(m.worker).to.be.above(0); // a worker's threadId, not the main thread's 0
      expect(m.heapUsed).to.be.above(1e6).and.at.most(m.heapTotal);
      expect(m.external).to.be.at.least(m.arrayBuffers);
    }
  });

  it('analyzes a photo in a worker as the main-thread engine does', async () => {
    const request = { limits: LIMITS, quality: true, feature: true, liveness: true };
    const [inWorker, inPlace] = await Promise.all([pool.analyze(scene('bbt4.jpg'), request), local.analyze(scene('bbt4.jpg'), request)]);
    expect(inWorker.faces).to.have.length(inPlace.faces.length).and.length.above(3);
    inWorker.faces.forEach((face, i) => {
      expect(face.box.width).to.be.closeTo(inPlace.faces[i]!.box.width, 1e-3);
      expect(cosineSimilarity(face.feature!, inPlace.faces[i]!.feature!)).to.be.above(0.9999);
      expect(face.quality!.yaw).to.be.closeTo(inPlace.faces[i]!.quality!.yaw, 1e-3);
      expect(face.liveness).to.be.within(0, 1);
    });
  });

  it('moves the photo to the worker with transfer when it owns its buffer, and copies it otherwise', async () => {
    const request = { limits: LIMITS, feature: true, transfer: true };
    const owned = new Uint8Array(scene('bbt4.jpg'));
    const shared = Buffer.concat([Buffer.alloc(16), scene('bbt4.jpg')]).subarray(16);
    const [moved, copied, kept] = await Promise.all([pool.analyze(owned, request), pool.analyze(shared, request), pool.analyze(scene('bbt4.jpg'), { ...request, transfer: false })]);
    expect(owned.byteLength, 'moved: detached').to.equal(0);
    expect(shared.byteLength, 'part of a larger buffer: copied').to.be.above(0);
    expect(moved.faces.length).to.equal(kept.faces.length).and.equal(copied.faces.length);
    expect(cosineSimilarity(moved.faces[0]!.feature!, kept.faces[0]!.feature!)).to.be.above(0.9999);
  });

  it('runs the fine-grained calls in workers too', async () => {
    const image = await pool.decode(readFileSync(PEOPLE_PHOTOS[0]!.path), LIMITS);
    const [face] = await pool.detect(image);
    const feature = await pool.embed(image, face!);
    expect(feature).to.have.length(512);
    expect((await pool.quality(image, face!)).blur).to.be.within(0, 1);
    expect((await pool.attributes(image, face!)).gender).to.be.oneOf(['male', 'female']);
  });

  it('keeps FaceError codes across the thread boundary', async () => {
    expect(await codeOf(pool.analyze(new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]), { limits: LIMITS }))).to.equal('UNSUPPORTED_IMAGE_FORMAT');
  });

  it('answers BUSY at once when more photos wait than the queue holds, and serves the rest', async () => {
    const before = pool.stats().refused;
    const calls = Array.from({ length: 8 }, () => codeOf(pool.analyze(scene('bbt1.jpg'), { limits: LIMITS, feature: true })));
    const codes = await Promise.all(calls);
    expect(codes.filter((c) => c === 'BUSY').length).to.be.at.least(1);
    expect(codes.filter((c) => c === 'resolved').length).to.be.at.least(2);
    expect(pool.stats().refused - before).to.equal(codes.filter((c) => c === 'BUSY').length);
  });

  it('abandons work whose signal fired: before the call, and while it waits or runs', async () => {
    const done = new AbortController();
    done.abort();
    expect(await codeOf(pool.analyze(scene('bbt1.jpg'), { limits: LIMITS, signal: done.signal }))).to.equal('ABORTED');
    const soon = new AbortController();
    const call = pool.analyze(scene('bbt1.jpg'), { limits: LIMITS, feature: true, signal: soon.signal });
    soon.abort();
    expect(await codeOf(call)).to.equal('ABORTED');
    // The workers are still there afterwards.
    expect((await pool.analyze(scene('bbt2.jpg'), { limits: LIMITS })).faces.length).to.be.above(0);
  });

  it('refuses to start on a damaged model folder, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pool-models-'));
    try {
      for (const name of readdirSync(MODEL_DIR)) copyFileSync(join(MODEL_DIR, name), join(dir, name));
      writeFileSync(join(dir, 'fr_eye.onnx'), 'not a model');
      const err = await createPooledEngine({ workers: 1, modelDir: dir }).then((e) => e.close().then(() => null), (e: Error) => e);
      expect(err?.name).to.equal('ModelIntegrityError');
      expect(err?.message).to.contain('fr_eye.onnx');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails every call after close()', async () => {
    const one = await createPooledEngine({ workers: 1 });
    await one.close();
    expect(await codeOf(one.analyze(scene('bbt1.jpg'), { limits: LIMITS }))).to.equal('INTERNAL');
  });
});
