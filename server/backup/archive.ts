// Taking a backup while the server runs: an online copy of both LMDB
// environments (LMDB's own mdb_env_copy through the stores' backup(): one
// read transaction, writers keep going), the secret files, and a checksum
// manifest, packed as one gzipped tar stream. The copies are staged in the
// data dir (same volume as the data, which has room for it), removed once
// the stream ends or fails.
//
// Archive: manifest.json first, then the files it lists, all regular files.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar';
import type { FaceStore } from '../../storage/store.js';
import type { SyncStatusStore } from '../../storage/sync-status.js';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  MANIFEST_NAME,
  SECRET_FILES,
  describeFile,
  type BackupManifest,
  type ManifestFile,
} from './manifest.js';

export interface BackupSources {
  store: FaceStore;
  syncStatus: SyncStatusStore;
  /** Where the secret files live, and (by default) where the copies are staged. */
  dataDir: string;
  /** Another place to stage the copies (the CLI uses the output file's folder, which a restarting server never clears). */
  stagingDir?: string;
  serverVersion: string;
  now?: () => number;
}

export const STAGING_PREFIX = '.backup-';

export interface BackupArchive {
  manifest: BackupManifest;
  /** The gzipped tar; read it once. The staged copies go when it ends, fails or is destroyed. */
  stream: Readable;
}

/** Copies everything into a staging dir and returns the archive stream over it. */
export async function createBackupArchive(sources: BackupSources): Promise<BackupArchive> {
  const staging = await mkdtemp(join(sources.stagingDir ?? sources.dataDir, STAGING_PREFIX));
  const cleanup = () => rm(staging, { recursive: true, force: true });
  try {
    const createdAt = (sources.now ?? Date.now)();
    await sources.store.backup(join(staging, 'store'));
    await sources.syncStatus.backup(join(staging, 'sync-status'));
    const paths = ['store/data.mdb', 'sync-status/data.mdb'];
    for (const key of SECRET_FILES) {
      if (!existsSync(join(sources.dataDir, key))) continue;
      await copyFile(join(sources.dataDir, key), join(staging, key));
      paths.push(key);
    }
    const files: ManifestFile[] = [];
    for (const path of paths) files.push(await describeFile(staging, path));
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      createdAt,
      serverVersion: sources.serverVersion,
      files,
    };
    await writeFile(join(staging, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
    const pack = tar.c({ gzip: true, cwd: staging, portable: true }, [MANIFEST_NAME, ...paths]);
    const stream = Readable.from(pack);
    let cleaned = false;
    const once = () => {
      if (cleaned) return;
      cleaned = true;
      void cleanup();
    };
    stream.once('close', once);
    stream.once('error', once);
    return { manifest, stream };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Staging dirs left by a backup that was cut off by a crash; called at start. */
export async function removeStaleStaging(dataDir: string): Promise<void> {
  if (!existsSync(dataDir)) return;
  for (const name of await readdir(dataDir)) {
    if (name.startsWith(STAGING_PREFIX)) await rm(join(dataDir, name), { recursive: true, force: true });
  }
}
