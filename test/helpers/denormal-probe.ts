// The denormal probe of test/models/onnx-denormals.test.ts, run as its own
// process (`node --import tsx denormal-probe.ts CASES_JSON`) so that its main
// thread has the CPU's default float mode: a thread starts with its
// creator's FTZ/DAZ bits, and the test process's main thread has opened ORT
// sessions (which set them on the thread that opens the process's first).
// As in the server, the main thread opens no session: worker 1 opens the
// process's first and reports whether that made it flush denormals, worker 2
// runs the cases (y = x * c models), worker 3 reports whether it flushed
// before and after asking the addon to, and the main thread prints all that
// and whether it flushes itself at the end.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { flushDenormalsOnThisThread, threadFlushesDenormals } from '../../models/denormal-mode.js';
import { SessionQueue, type SessionOptions } from '../../models/session-queue.js';

export interface ProbeCase {
  path: string;
  options: SessionOptions;
  x: number[];
}

type Role = { first: string } | { cases: ProbeCase[] } | { addon: true };

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
  const results = await inWorker({ cases });
  const [[before, after]] = (await inWorker({ addon: true })) as [[number, number]];
  process.stdout.write(JSON.stringify({ firstThreadFlushes: flushes === 1, results, addon: { before: before === 1, after: after === 1 }, mainFlushes: threadFlushesDenormals() }));
} else {
  const role = workerData as Role;
  if ('addon' in role) {
    const before = threadFlushesDenormals();
    parentPort!.postMessage([[before ? 1 : 0, flushDenormalsOnThisThread() ? 1 : 0]]);
  } else if ('first' in role) {
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
