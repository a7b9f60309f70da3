// Restoring a backup archive into an empty data dir. Nothing is written
// where the server would look until the whole archive has been extracted
// into a staging dir and every file matches the manifest; then the store
// starts a new lineage (below) and the files move into place.
//
// Why a new lineage. Terminals that synced with the lost server after the
// backup hold versions the backup never saw; once the restored server makes
// new changes, the same (group id, version) would name a different state
// and a delta from it would be wrong. So the restore moves every live group
// to version `base` and remembers the skipped range: a terminal at a version
// the backup had gets a delta, one inside the range a full copy. Group ids
// created from now on also start at `base`, so a group the lost server
// created after the backup never shares an id with a new one.
//
// base = restore time in seconds * 2^20: above every version and group id
// of any earlier lineage (those started at an earlier base and would need
// over a million changes per second since to reach this one), unique per
// restore second, and below 2^53 until the year 2242.
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import type { RestoredLineage } from '../../storage/store.js';
import { openLmdbStore } from '../../storage/index.js';
import { BACKUP_FILES, BackupError, MANIFEST_NAME, SECRET_FILES, parseManifest, verifyFiles, type BackupManifest } from './manifest.js';

export const LINEAGE_STRIDE = 2 ** 20;

export function lineageBase(now: number): number {
  return Math.floor(now / 1000) * LINEAGE_STRIDE;
}

export interface RestoreResult {
  manifest: BackupManifest;
  lineage: RestoredLineage;
}

const ALLOWED = new Set<string>([MANIFEST_NAME, ...BACKUP_FILES]);
const KEY_FILES = new Set<string>(SECRET_FILES);
const RESTORE_PREFIX = '.restore-';

/** Extracts, verifies and installs `file` into `dataDir`, which must be empty or absent. Throws BackupError. */
export async function restoreBackup(file: string, dataDir: string, now: () => number = Date.now): Promise<RestoreResult> {
  if (!existsSync(file)) throw new BackupError(`no backup file at ${file}`);
  if (existsSync(dataDir)) {
    // A staging dir left by a restore that was killed is not data: clear it.
    const entries = await readdir(dataDir);
    for (const name of entries.filter((entry) => entry.startsWith(RESTORE_PREFIX))) await rm(join(dataDir, name), { recursive: true, force: true });
    if (entries.some((entry) => !entry.startsWith(RESTORE_PREFIX))) {
      throw new BackupError(`${dataDir} is not empty: restore only into an empty or new data dir (move the old one aside first)`);
    }
  }
  await mkdir(dataDir, { recursive: true });
  const staging = await mkdtemp(join(dataDir, RESTORE_PREFIX));
  try {
    const extracted = await extract(file, staging);
    if (!extracted.has(MANIFEST_NAME)) {
      throw new BackupError(`the backup has no ${MANIFEST_NAME}: not a FacePass backup, or cut off before it`);
    }
    const manifest = parseManifest(await readFile(join(staging, MANIFEST_NAME), 'utf8'));
    await verifyFiles(staging, manifest, extracted);

    const store = await openLmdbStore({ path: join(staging, 'store') });
    let lineage: RestoredLineage;
    try {
      lineage = await store.beginRestoredLineage(lineageBase(now()));
    } finally {
      await store.close();
    }
    for (const name of await readdir(staging)) {
      if (name === MANIFEST_NAME) continue;
      if (KEY_FILES.has(name)) await chmod(join(staging, name), 0o600);
      await rename(join(staging, name), join(dataDir, name));
    }
    return { manifest, lineage };
  } finally {
    await removeStaging(staging);
  }
}

/**
 * When a damaged archive makes tar's promise reject, tar may still be
 * closing a file it was writing into the staging dir, and a plain rm then
 * fails with ENOTEMPTY (seen in 2 of 60 restores of a cut archive), which
 * would replace the restore's own error. rm retries that case; a staging dir
 * still left behind is not data (the next restore clears it), so its
 * removal never decides the outcome.
 */
async function removeStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }).catch(() => undefined);
}

/** Extracts the allowed regular files; any other entry, or a damaged archive, is a BackupError. */
async function extract(file: string, into: string): Promise<Set<string>> {
  const extracted = new Set<string>();
  const unexpected: string[] = [];
  try {
    await tar.x({
      file,
      cwd: into,
      strict: true,
      filter: (path, entry) => {
        const type = 'type' in entry ? entry.type : 'File';
        if (!ALLOWED.has(path) || type !== 'File') {
          unexpected.push(path);
          return false;
        }
        extracted.add(path);
        return true;
      },
    });
  } catch (err) {
    throw new BackupError(`the backup file is damaged or incomplete: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (unexpected.length > 0) throw new BackupError(`the backup holds unexpected entries: ${unexpected.slice(0, 5).join(', ')}`);
  return extracted;
}
