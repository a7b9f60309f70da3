// What /metrics reports about the process's memory beyond prom-client's
// defaults (RSS, the main thread's heap): the resident memory split into
// anonymous and file-backed pages (LMDB's memory map is file-backed page
// cache, not a leak), and the engine workers' JS memory, which the main
// thread's nodejs_* metrics do not include. Read at scrape time.
import { readFileSync } from 'node:fs';
import type { FaceEngine } from '../models/engine.js';
import type { PooledFaceEngine, WorkerMemory } from '../models/index.js';
import type { ServerMetrics } from './http/metrics.js';

/** A field of /proc/<pid>/status in bytes (Linux), NaN where there is none: this process's, or another's (the benchmarks' server). */
export function procStatusBytes(field: 'RssAnon' | 'RssFile', pid: number | 'self' = 'self'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function isPooled(engine: FaceEngine): engine is PooledFaceEngine {
  return typeof (engine as Partial<PooledFaceEngine>).workerMemory === 'function';
}

export function registerMemoryMetrics(metrics: ServerMetrics, engine: FaceEngine): void {
  if (process.platform === 'linux') {
    metrics.sample('gauge', 'process_resident_anonymous_bytes', 'Resident anonymous memory (heaps, malloc, native arenas): RssAnon', () => procStatusBytes('RssAnon'));
    metrics.sample('gauge', 'process_resident_file_bytes', 'Resident file-backed memory (LMDB memory map, code): RssFile', () => procStatusBytes('RssFile'));
  }
  if (!isPooled(engine)) return;
  const sum = (key: keyof Omit<WorkerMemory, 'worker'>) => () => engine.workerMemory().reduce((total, m) => total + m[key], 0);
  metrics.sample('gauge', 'engine_workers_heap_used_bytes', 'V8 heap used, summed over the engine worker threads (as of each one\'s last task)', sum('heapUsed'));
  metrics.sample('gauge', 'engine_workers_heap_total_bytes', 'V8 heap reserved, summed over the engine worker threads', sum('heapTotal'));
  metrics.sample('gauge', 'engine_workers_external_bytes', 'External memory (incl. array buffers), summed over the engine worker threads', sum('external'));
  metrics.sample('gauge', 'engine_workers_array_buffers_bytes', 'ArrayBuffer memory, summed over the engine worker threads', sum('arrayBuffers'));
}
