// npm run bench:recognize [-- --rounds 15 --threads 1]
// Issue 10 §7: the HTTP compare and recognize latency per request, against
// the engine's raw inference time in the same run.
//
// The server runs in this process with the engine on its event loop (as
// ENGINE_WORKERS=0 does), so the time inside session.run during each request
// can be read off the engine's counters: per request, the HTTP latency, the
// model inference inside it, and the ratio. For the same photos, the
// engine's analyze() on its own (no HTTP) gives the pipeline's share (decode,
// crops, landmarks, second look, alignment) between the two.
//
// Requests, one at a time:
// - compare: two 150x150 people/ photos (raj 1 and 2), one face each;
// - recognize, one face: a 700x700 enrolment photo (leonard 2) against the
//   8 enrolled faces;
// - recognize, group photo: bbt3.jpg (5 faces) against the same faces.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOnnxEngine } from '../models/index.js';
import { FaceServer } from '../server/app.js';
import { readPersonPhoto, readScene } from '../test/helpers/paths.js';
import { ENROLLABLE, enrollablePhoto } from '../test/helpers/photos.js';
import { benchServerConfig, col, machineInfo, machineLines, median, percentile, positive } from './bench-common.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    threads: { type: 'string', default: '1' },
  },
});
const rounds = positive('rounds', values.rounds);
const threads = positive('threads', values.threads);

const dataDir = mkdtempSync(join(tmpdir(), 'bench-recognize-'));
for (const l of machineLines(machineInfo(dataDir))) console.log(l);
const engine = await createOnnxEngine({ intraOpThreads: threads });
const config = benchServerConfig(dataDir, { engineWorkers: 0, engineThreads: threads });
const server = await FaceServer.start({ config, engine });
const auth = { authorization: `Bearer ${server.keys.admin}` };

/** Milliseconds inside session.run since the last reset, all models. */
const inferenceMs = () => Object.values(engine.inferenceStats()).reduce((sum, s) => sum + s.ms, 0);

async function call(path: string, body: FormData | unknown): Promise<Record<string, unknown>> {
  const form = body instanceof FormData;
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: form ? auth : { ...auth, 'content-type': 'application/json' },
    body: form ? body : JSON.stringify(body),
  });
  const answer = (await response.json()) as { code: number; data: Record<string, unknown> };
  if (answer.code !== 0) throw new Error(`${path}: ${JSON.stringify(answer)}`);
  return answer.data;
}

try {
  await call('/api/group/v1/create', { group_name: 'bench' });
  for (const [person, n] of ENROLLABLE) {
    const form = new FormData();
    form.append('image', new Blob([await enrollablePhoto(person, n)], { type: 'image/png' }), 'face.png');
    const added = await call('/api/face/v1/add', form);
    await call('/api/group/v1/bind', { group_name: 'bench', face_token: added.face_token });
  }

  const [rajA, rajB] = [readPersonPhoto('raj', 1), readPersonPhoto('raj', 2)];
  const enrolment = await enrollablePhoto('leonard', 2);
  const group = readScene('bbt3.jpg');
  const recognizeForm = (photo: Uint8Array, name: string) => {
    const form = new FormData();
    form.append('group_name', 'bench');
    form.append('face_data', '{}');
    form.append('image_1', new Blob([photo]), name);
    return form;
  };
  const cases: Array<{ name: string; request: () => Promise<unknown>; photos: Array<{ bytes: Uint8Array; maxFaces: number }> }> = [
    {
      name: 'compare (2 x 150x150)',
      request: () => {
        const form = new FormData();
        form.append('image_1', new Blob([rajA]), 'a.png');
        form.append('image_2', new Blob([rajB]), 'b.png');
        form.append('enable_liveness', 'false');
        return call('/api/service/compare/v1', form);
      },
      photos: [{ bytes: rajA, maxFaces: 1 }, { bytes: rajB, maxFaces: 1 }],
    },
    { name: 'recognize (700x700, 1)', request: () => call('/api/service/recognize/v1', recognizeForm(enrolment, 'face.png')), photos: [{ bytes: enrolment, maxFaces: config.maxFacesPerImage }] },
    { name: 'recognize (bbt3, 5)', request: () => call('/api/service/recognize/v1', recognizeForm(group, 'scene.jpg')), photos: [{ bytes: group, maxFaces: config.maxFacesPerImage }] },
  ];

  const rows: string[] = [];
  for (const c of cases) {
    const http: number[] = [], httpInference: number[] = [], pipeline: number[] = [], pipelineInference: number[] = [];
    // Round 0 warms up; HTTP and the bare engine alternate so both see the same machine.
    for (let round = 0; round <= rounds; round++) {
      engine.resetInferenceStats();
      let started = performance.now();
      await c.request();
      const h = performance.now() - started, hi = inferenceMs();
      engine.resetInferenceStats();
      started = performance.now();
      for (const p of c.photos) await engine.analyze(p.bytes, { limits: config.recognitionImage, maxFaces: p.maxFaces, quality: true, feature: true });
      const e = performance.now() - started, ei = inferenceMs();
      if (round === 0) continue;
      http.push(h); httpInference.push(hi); pipeline.push(e); pipelineInference.push(ei);
    }
    const inf = median(httpInference);
    rows.push(`  ${c.name.padEnd(24)}${col(median(http), 8, 1)}${col(percentile(http, 99), 8, 1)}${col(inf, 11, 1)}${col(median(http) / inf, 8)}${col(median(pipeline), 10, 1)}${col(median(pipeline) / median(pipelineInference), 9)}`);
  }
  console.log(`\nHTTP compare and recognize vs the raw inference inside them (ms, ${rounds} rounds, one request at a time, ${threads} intra-op thread${threads > 1 ? 's' : ''})`);
  console.log(`  ${''.padEnd(24)}${col('p50', 8)}${col('p99', 8)}${col('inference', 11)}${col('ratio', 8)}${col('analyze', 10)}${col('ratio', 9)}`);
  for (const r of rows) console.log(r);
  console.log('  p50/p99: HTTP latency; inference: time inside session.run during the request (median); ratio: HTTP p50 / inference;');
  console.log('  analyze: the same photos through engine.analyze() without HTTP (median), and its ratio to its own inference');
} finally {
  await server.close();
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
}
