// npm run -s restore -- <file> [--data-dir DIR]
//
// Restores a backup archive into an empty (or new) data dir: settings'
// DATA_DIR, or --data-dir. Refuses a damaged, partial or foreign file, and
// a non-empty data dir, with a message and exit code 2, leaving the data dir
// as it was. Then start the server on that data dir. Prints one JSON line:
// the backup's time and files, and the version every group now starts from.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { restoreBackup } from '../server/backup/restore.js';
import { BackupError } from '../server/backup/manifest.js';
import { loadToolConfig } from './tool-config.js';

function fail(message: string): never {
  process.stderr.write(`restore: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { 'data-dir': { type: 'string' } } });
  } catch (err) {
    fail((err as Error).message);
  }
  const [file] = parsed.positionals;
  if (!file || parsed.positionals.length > 1) fail('usage: npm run -s restore -- <file> [--data-dir DIR]');
  const dataDir = resolve(parsed.values['data-dir'] ?? loadToolConfig().dataDir);
  try {
    const { manifest, lineage } = await restoreBackup(resolve(file), dataDir);
    process.stdout.write(
      JSON.stringify({
        dataDir,
        backupCreatedAt: new Date(manifest.createdAt).toISOString(),
        serverVersion: manifest.serverVersion,
        files: manifest.files.map((f) => f.path),
        groups: lineage.groups,
        versionBase: lineage.base,
      }) + '\n',
    );
  } catch (err) {
    fail(err instanceof BackupError ? err.message : `restore failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

await main();
