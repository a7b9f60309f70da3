// npm run -s backup -- <file> [--url URL [--key KEY]] [--data-dir DIR]
//
// Writes a backup archive (gzipped tar: checksum manifest, both LMDB
// environments, the key files) to <file>, mode 0600 (it holds the keys).
// - With --url: asks the running server for it (GET /api/admin/v1/backup),
//   with --key, else ADMIN_KEY, else the data dir's admin.key.
// - Without: copies the data dir (settings' DATA_DIR, or --data-dir)
//   directly; LMDB allows that while the server runs, and also when it does not.
// The file appears only once complete (written as <file>.partial, then renamed).
// Prints one JSON line; exit code 2 with a message on stderr on failure.
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { openLmdbStore, openLmdbSyncStatus } from '../storage/index.js';
import { createBackupArchive } from '../server/backup/archive.js';
import { BACKUP_PATH } from '../server/backup/route.js';
import { loadToolConfig } from './tool-config.js';
import { SERVER_VERSION } from '../server/version.js';

function fail(message: string): never {
  process.stderr.write(`backup: ${message}\n`);
  process.exit(2);
}

async function fromServer(url: string, key: string): Promise<Readable> {
  let res: Response;
  try {
    res = await fetch(new URL(BACKUP_PATH, url), { headers: { Authorization: `Bearer ${key}` } });
  } catch (err) {
    throw new Error(`cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok || !res.body) throw new Error(`${url} answered HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return Readable.fromWeb(res.body as never);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { url: { type: 'string' }, key: { type: 'string' }, 'data-dir': { type: 'string' } },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const [file] = parsed.positionals;
  if (!file || parsed.positionals.length > 1) fail('usage: npm run -s backup -- <file> [--url URL [--key KEY]] [--data-dir DIR]');
  const target = resolve(file);
  const partial = `${target}.partial`;
  const config = loadToolConfig();
  const dataDir = resolve(parsed.values['data-dir'] ?? config.dataDir);
  const url = parsed.values.url;
  const keyFile = join(dataDir, 'admin.key');
  const key = parsed.values.key ?? config.adminKey ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
  if (url && !key) fail("no admin key: pass --key, set ADMIN_KEY, or point --data-dir at the server's data dir");
  if (!url && !existsSync(join(dataDir, 'store'))) fail(`no store under ${dataDir} (set DATA_DIR or --data-dir, or use --url)`);
  const out = createWriteStream(partial, { mode: 0o600 });
  try {
    if (url) {
      await pipeline(await fromServer(url, key!), out);
    } else {
      const store = await openLmdbStore({ path: join(dataDir, 'store') });
      const syncStatus = await openLmdbSyncStatus({ path: join(dataDir, 'sync-status') });
      try {
        const archive = await createBackupArchive({ store, syncStatus, dataDir, stagingDir: dirname(target), serverVersion: SERVER_VERSION });
        await pipeline(archive.stream, out);
      } finally {
        await syncStatus.close();
        await store.close();
      }
    }
    await rename(partial, target);
  } catch (err) {
    out.destroy();
    await rm(partial, { force: true });
    fail(err instanceof Error ? err.message : String(err));
  }
  process.stdout.write(JSON.stringify({ file: target, bytes: (await stat(target)).size }) + '\n');
}

await main();
