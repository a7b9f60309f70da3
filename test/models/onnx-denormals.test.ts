import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { flushDenormalWeights } from '../../models/onnx-denormals.js';
import type { SessionOptions } from '../../models/session-queue.js';
import { denormalAddonFile } from '../../models/denormal-mode.js';
import { DEFAULT_MODEL_DIR, MODEL_FILES } from '../../models/onnx-engine.js';
import { mulModel } from '../helpers/tiny-onnx.js';
import type { ProbeCase } from '../helpers/denormal-probe.js';

/** float32 values from their bits: converting 1e-40 to float32 gives 0 on a thread with FTZ set, which is what is tested. */
const floats = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const DENORMAL_BITS = 0x000116c2; // 1e-40, a float32 subnormal (the smallest normal is 1.18e-38)
const bitsOf = (values: Float32Array) => Array.from(new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));

/** The float32 values stored at the constant's place in the model (flushing keeps every byte's position). */
function constantAt(model: Uint8Array, constant: Float32Array): () => Float32Array {
  const at = Buffer.from(model).indexOf(Buffer.from(constant.buffer, constant.byteOffset, constant.byteLength));
  expect(at).to.be.greaterThan(0);
  // A copy: the model may be a Buffer, whose slice() is a view of a shared pool.
  return () => new Float32Array(new Uint8Array(model.subarray(at, at + constant.byteLength)).buffer);
}

describe('onnx-denormals: denormal weights zeroed in place', () => {
  // 1e-40, -1e-40, 1.5, 0, -0, 1e-30, the largest subnormal, the smallest normal.
  const constant = floats(DENORMAL_BITS, 0x80000000 | DENORMAL_BITS, 0x3fc00000, 0, 0x80000000, 0x0da24260, 0x007fffff, 0x00800000);

  for (const asFloatData of [false, true]) {
    it(`zeroes the subnormal initializer values only, keeping their sign (${asFloatData ? 'float_data' : 'raw_data'})`, () => {
      const model = mulModel(constant, asFloatData);
      const length = model.length;
      const read = constantAt(model, constant);
      expect(flushDenormalWeights(model)).to.equal(3);
      expect(model.length).to.equal(length);
      const after = bitsOf(read()), before = bitsOf(constant);
      expect(after).to.deep.equal([0, 0x80000000, ...before.slice(2, 6), 0, before[7]]);
      expect(flushDenormalWeights(model)).to.equal(0);
    });
  }

  it('leaves tensors that are not float32 alone, and rejects a truncated model', () => {
    const model = mulModel(floats(DENORMAL_BITS));
    // FLOAT (1) -> INT32 (6): the same four bytes are now an integer, 71362.
    const typeAt = Buffer.from(model).indexOf(Buffer.from([0x10, 0x01, 0x42, 0x01, 0x63]));
    expect(typeAt).to.be.greaterThan(0);
    model[typeAt + 1] = 6;
    expect(flushDenormalWeights(model)).to.equal(0);
    expect(() => flushDenormalWeights(mulModel(Float32Array.from([1, 2])).subarray(0, 40))).to.throw(RangeError);
  });

  it('leaves no denormal weight in the shipped models', async () => {
    for (const file of [MODEL_FILES.feature, MODEL_FILES.landmark]) {
      const model = await readFile(join(DEFAULT_MODEL_DIR, file));
      expect(flushDenormalWeights(model), file).to.be.greaterThan(0);
      expect(flushDenormalWeights(model), file).to.equal(0);
    }
  });
});

describe('denormal-mode: the addon', () => {
  it('is built from the committed source', function () {
    const dir = fileURLToPath(new URL('../../models/denormal-mode/', import.meta.url));
    const [source, binary] = readFileSync(join(dir, 'denormal_mode.sha256'), 'utf8').trim().split('\n');
    const hash = (name: string) => createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
    expect(hash('denormal_mode.c'), 'denormal_mode.c changed: run npm run build:addon').to.equal(source);
    expect(hash('denormal_mode.linux-x64.node'), 'the .node is not build.sh\'s').to.equal(binary);
  });

  it('exists for x86-64 Linux only', () => {
    expect(denormalAddonFile('linux', 'x64')).to.equal('./denormal-mode/denormal_mode.linux-x64.node');
    expect([denormalAddonFile('linux', 'arm64'), denormalAddonFile('darwin', 'x64'), denormalAddonFile('win32', 'x64')]).to.deep.equal([undefined, undefined, undefined]);
  });
});

describe('onnx-denormals: flushing in any engine worker', function () {
  this.timeout(60_000);
  let dir: string;
  before(async function () {
    // ORT's FTZ/DAZ bits are x86's (SSE); elsewhere it does not set them.
    if (process.arch !== 'x64' && process.arch !== 'ia32') this.skip();
    dir = await mkdtemp(join(tmpdir(), 'denormal-probe-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('flushes denormal weights and activations whatever thread runs the model', async () => {
    const tiny = join(dir, 'tiny.onnx'), denormal = join(dir, 'denormal.onnx');
    await writeFile(tiny, mulModel(Float32Array.from([1e-20, 1e-20])));
    await writeFile(denormal, mulModel(floats(DENORMAL_BITS, DENORMAL_BITS)));
    const cases: Array<ProbeCase & { label: string }> = [];
    const add = (label: string, path: string, options: SessionOptions, x: number[]) => cases.push({ label, path, options, x });
    // 1e-20 * 1e-20 = 1e-40 is a denormal result (FTZ makes it 0); 1 * 1e-40 a denormal weight (DAZ or the flush make it 0).
    add('activations, caller thread, no flush: the control', tiny, { intraOpThreads: 1, flushDenormals: false }, [1e-20, 1e-20]);
    add('weights, caller thread, no flush: the control', denormal, { intraOpThreads: 1, flushDenormals: false }, [1, 1]);
    add('weights, caller thread, flushed at load', denormal, { intraOpThreads: 1 }, [1, 1]);
    add('activations, own thread', tiny, { intraOpThreads: 1, ownThread: true }, [1e-20, 1e-20]);
    add('weights, own thread', denormal, { intraOpThreads: 1, ownThread: true }, [1, 1]);
    // Its own process: see denormal-probe.ts for why and how.
    const probe = fileURLToPath(new URL('../helpers/denormal-probe.ts', import.meta.url));
    const input = JSON.stringify({ first: tiny, cases: cases.map(({ path, options, x }) => ({ path, options, x })) });
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', probe, input]);
    const { firstThreadFlushes, results, addon, mainFlushes } = JSON.parse(stdout) as {
      firstThreadFlushes: boolean; results: number[][]; addon: { before: boolean; after: boolean }; mainFlushes: boolean;
    };
    // The addon sets the bits on the thread that asks, and on no other.
    expect({ addon, mainFlushes }).to.deep.equal({ addon: { before: false, after: denormalAddonFile() !== undefined }, mainFlushes: false });
    // ORT's once-per-process switch, which the cases below must not depend on.
    expect(firstThreadFlushes, 'the thread that opened the first session flushes').to.equal(true);
    const zero = (r: number[]) => r.every((v) => v === 0);
    expect(cases.map((c, i) => [c.label, zero(results[i]!)])).to.deep.equal([
      ['activations, caller thread, no flush: the control', false],
      ['weights, caller thread, no flush: the control', false],
      ['weights, caller thread, flushed at load', true],
      ['activations, own thread', true],
      ['weights, own thread', true],
    ]);
  });
});
