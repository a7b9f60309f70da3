// npm run -s import -- <folder or CSV> --group NAME [--url URL] [--key KEY]
//                      [--concurrency N] [--report FILE] [--retry-refused]
//
// Enrols one photo per person through the server's FacePass API (face add,
// then group bind; the group is created if missing), at most N uploads in
// flight (default 4). Progress on stderr: a bar on a terminal, plain lines
// otherwise. Every photo's outcome goes to the report (JSON lines, default
// <input>.import.jsonl); a re-run with the same report skips what is done
// (see tools/import/report.ts), so an interrupted import resumes.
//
// The FacePass bind has no user fields: user_id (file name, or the CSV's
// column) and user_info are kept in the report, next to each face_token.
//
// Prints one JSON summary line. Exit code 0 when nothing failed (refusals
// are normal: the report names their reasons), 1 when some photo failed,
// 2 for bad arguments or a refused key.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FacePassApi } from './import/facepass-api.js';
import { createProgress } from './import/progress.js';
import { ImportAborted, runImport } from './import/run.js';
import { listPhotos, SourceError } from './import/sources.js';
import { loadToolConfig } from './tool-config.js';

const USAGE = 'usage: npm run -s import -- <folder or CSV> --group NAME [--url URL] [--key KEY] [--concurrency N] [--report FILE] [--retry-refused]';
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
      api: new FacePassApi({ url, key }),
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
