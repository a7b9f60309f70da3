import { expect } from 'chai';
import type { FaceEngine } from '../../models/engine.js';
import type { PooledFaceEngine, WorkerMemory } from '../../models/index.js';
import { ServerMetrics } from '../../server/http/metrics.js';
import { registerMemoryMetrics } from '../../server/memory-metrics.js';

describe('memory metrics', function () {
  const worker = (id: number, mb: number): WorkerMemory => ({ worker: id, heapUsed: mb * 2 ** 20, heapTotal: 2 * mb * 2 ** 20, external: mb * 2 ** 19, arrayBuffers: mb * 2 ** 18 });
  const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);

  it('sums the engine workers\' memory at scrape time', async () => {
    let samples = [worker(1, 10), worker(2, 20)];
    const engine = { workerMemory: () => samples } as unknown as PooledFaceEngine;
    const metrics = new ServerMetrics();
    registerMemoryMetrics(metrics, engine);
    let text = await metrics.registry.metrics();
    expect(value(text, 'engine_workers_heap_used_bytes')).to.equal(30 * 2 ** 20);
    expect(value(text, 'engine_workers_heap_total_bytes')).to.equal(60 * 2 ** 20);
    expect(value(text, 'engine_workers_external_bytes')).to.equal(15 * 2 ** 20);
    expect(value(text, 'engine_workers_array_buffers_bytes')).to.equal(7.5 * 2 ** 20);
    samples = [worker(1, 1)];
    text = await metrics.registry.metrics();
    expect(value(text, 'engine_workers_heap_used_bytes')).to.equal(2 ** 20);
  });

  it('reports no worker metrics for an engine on the main thread, and the RSS split on Linux', async function () {
    const metrics = new ServerMetrics();
    registerMemoryMetrics(metrics, {} as FaceEngine);
    const text = await metrics.registry.metrics();
    expect(text).not.to.include('engine_workers_');
    if (process.platform !== 'linux') this.skip();
    const anon = value(text, 'process_resident_anonymous_bytes'), file = value(text, 'process_resident_file_bytes');
    expect(anon).to.be.above(1e6);
    expect(file).to.be.above(1e6);
    expect(anon + file).to.be.at.most(value(text, 'process_resident_memory_bytes') * 1.1 + 1e6);
  });
});
