// The denormal probe of test/models/onnx-denormals.test.ts, run as its own
// process (`node --import tsx denormal-probe.ts CASES_JSON`) so that its main
// thread has the CPU's default float mode: a thread starts with its
// creator's FTZ/DAZ bits, and the test process's main thread has opened ORT
// sessions (which set them on the thread that opens the process's first).
// As in the server, the main thread opens no session: worker 1 opens the
// process's first and reports whether that made it flush denormals, worker 2
// runs the cases (y = x * c models), and the main thread prints
// { firstThreadFlushes, results }.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SessionQueue, threadFlushesDenormals, type SessionOptions } from '../../models/session-queue.js';

export interface ProbeCase {
  path: string;
  options: SessionOptions;
  x: number[];
}

type Role = { first: string } | { cases: ProbeCase[] };

async function inWorker(role: Role): Promise<number[][]> {
  const worker = new Worker(new URL('./denormal-probe.mjs', import.meta.url), { workerData: role });
  const result = await new Promise<number[][]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  return result;
}

if (isMainThread) {
  const { first, cases } = JSON.parse(process.argv[2]!) as { first: string; cases: ProbeCase[] };
  const flushes = (await inWorker({ first }))[0]?.[0];
  process.stdout.write(JSON.stringify({ firstThreadFlushes: flushes === 1, results: await inWorker({ cases }) }));
} else {
  const role = workerData as Role;
  if ('first' in role) {
    await (await SessionQueue.open('first', role.first, { intraOpThreads: 1 })).close();
    parentPort!.postMessage([[threadFlushesDenormals() ? 1 : 0]]);
  } else {
    const results: number[][] = [];
    for (const { path, options, x } of role.cases) {
      const session = await SessionQueue.open('probe', path, options);
      const out = await session.run(Float32Array.from(x), [x.length]);
      results.push(Array.from(out.y!.data as Float32Array));
      await session.close();
    }
    parentPort!.postMessage(results);
  }
}
