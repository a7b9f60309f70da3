// npm run -s import -- <folder or CSV> --group NAME [--url URL] [--key KEY]
//                      [--concurrency N] [--report FILE] [--retry-refused]
//                      [--dialect facepass|baidu] [--appid ID]
//
// Enrols one photo per person through the server's own API (FacePass: face
// add then group bind; Baidu: face/add with the user fields; see
// tools/import/enrollers.ts), the group created if missing, at most N
// uploads in flight (default 4). Progress on stderr: a bar on a terminal, plain lines
// otherwise. Every photo's outcome goes to the report (JSON lines, default
// <input>.import.jsonl); a re-run with the same report skips what is done
// (see tools/import/report.ts), so an interrupted import resumes.
//
// user_id is the file name (or the CSV's column). The FacePass bind has no
// user fields: with it, user_id and user_info are kept in the report only;
// --dialect baidu stores them with the face on the server.
//
// Prints one JSON summary line. Exit code 0 when nothing failed (refusals
// are normal: the report names their reasons), 1 when some photo failed,
// 2 for bad arguments or a refused key.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BaiduEnroller, FacePassEnroller } from './import/enrollers.js';
import { HttpJson } from './import/http-json.js';
import { createProgress } from './import/progress.js';
import { ImportAborted, runImport } from './import/run.js';
import { listPhotos, SourceError } from './import/sources.js';
import { loadToolConfig } from './tool-config.js';

const USAGE =
  'usage: npm run -s import -- <folder or CSV> --group NAME [--url URL] [--key KEY] [--concurrency N] [--report FILE] [--retry-refused] [--dialect facepass|baidu] [--appid ID]';
/** FacePass group names; Baidu's group_id rule is wider, so one rule serves both. */
const GROUP_NAME = /^[a-zA-Z0-9_]{4,16}$/;

function fail(message: string): never {
  process.stderr.write(`import: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        group: { type: 'string' },
        url: { type: 'string' },
        key: { type: 'string' },
        concurrency: { type: 'string', default: '4' },
        report: { type: 'string' },
        'retry-refused': { type: 'boolean', default: false },
        dialect: { type: 'string', default: 'facepass' },
        appid: { type: 'string' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) fail(USAGE);
  if (!values.group || !GROUP_NAME.test(values.group)) fail(`--group must match ${GROUP_NAME.source}\n${USAGE}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) fail('--concurrency must be an integer in [1, 64]');

  if (values.dialect !== 'facepass' && values.dialect !== 'baidu') fail('--dialect must be facepass or baidu');
  if (values.appid !== undefined && (values.dialect !== 'baidu' || !/^[A-Za-z0-9_]{1,48}$/.test(values.appid))) {
    fail('--appid needs --dialect baidu and must be 1-48 characters of [A-Za-z0-9_]');
  }
  const config = loadToolConfig();
  const url = values.url ?? `http://127.0.0.1:${config.port}`;
  const keyFile = join(config.dataDir, 'admin.key');
  const key = values.key ?? config.adminKey ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
  if (!key) fail('no admin key: pass --key or set ADMIN_KEY');

  const input = positionals[0]!.replace(/[\\/]+$/, '');
  let entries;
  try {
    entries = await listPhotos(input);
  } catch (err) {
    if (err instanceof SourceError) fail(err.message);
    throw err;
  }
  const reportFile = resolve(values.report ?? `${input}.import.jsonl`);
  try {
    const summary = await runImport({
      entries,
      group: values.group,
      enroller: values.dialect === 'baidu' ? new BaiduEnroller(new HttpJson({ url, key }), values.appid) : new FacePassEnroller(new HttpJson({ url, key })),
      concurrency,
      reportFile,
      retryRefused: values['retry-refused'],
      progress: createProgress(process.stderr, entries.length),
    });
    process.stdout.write(JSON.stringify(summary) + '\n');
    process.exitCode = summary.failed > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof ImportAborted) fail(err.message);
    fail(err instanceof Error ? err.message : String(err));
  }
}

await main();
