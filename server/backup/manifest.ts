// The checksum manifest of a backup archive (manifest.json, the archive's
// first entry): what the archive must hold, byte for byte. A restore
// refuses an archive whose files differ from it in any way (missing, extra,
// other size, other sha256), so a truncated or corrupted backup is never
// half-restored.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

export const BACKUP_FORMAT = 'facepass-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const MANIFEST_NAME = 'manifest.json';

/**
 * Secrets the server keeps in the data dir, each backed up when present:
 * the access keys (absent when they come from settings) and the key that
 * signs Baidu OAuth tokens (so issued tokens stay valid after a restore).
 */
export const SECRET_FILES = ['admin.key', 'device.key', 'baidu-token.key'] as const;
/**
 * Every file a backup may hold, relative to the data dir. The two LMDB
 * environments are copied with LMDB's own online copy.
 */
export const BACKUP_FILES = ['store/data.mdb', 'sync-status/data.mdb', ...SECRET_FILES] as const;
/** Without these the archive is not a backup of this server. */
export const REQUIRED_FILES: readonly string[] = ['store/data.mdb', 'sync-status/data.mdb'];

export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  formatVersion: number;
  /** ms since the epoch, when the copy was taken. */
  createdAt: number;
  serverVersion: string;
  files: ManifestFile[];
}

export class BackupError extends Error {
  override name = 'BackupError';
}

export async function describeFile(root: string, path: string): Promise<ManifestFile> {
  const full = join(root, path);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer);
  return { path, bytes: (await stat(full)).size, sha256: hash.digest('hex') };
}

/** Parses and checks a manifest's shape; throws BackupError naming what is wrong. */
export function parseManifest(text: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackupError(`${MANIFEST_NAME} is not valid JSON: the backup file is corrupt`);
  }
  const m = value as Partial<BackupManifest>;
  if (!m || m.format !== BACKUP_FORMAT) throw new BackupError('not a FacePass backup (manifest format differs)');
  if (m.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupError(`backup format version ${String(m.formatVersion)} is not supported (this server reads ${BACKUP_FORMAT_VERSION})`);
  }
  const known = new Set<string>(BACKUP_FILES);
  if (!Array.isArray(m.files)) throw new BackupError('manifest lists no files: the backup file is corrupt');
  for (const f of m.files) {
    if (!f || !known.has(f.path) || !Number.isSafeInteger(f.bytes) || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) {
      throw new BackupError(`manifest entry ${JSON.stringify(f)} is not valid`);
    }
  }
  for (const path of REQUIRED_FILES) {
    if (!m.files.some((f) => f.path === path)) throw new BackupError(`manifest lacks ${path}`);
  }
  return m as BackupManifest;
}

/** Checks extracted files against the manifest: every listed file present with its size and sha256, nothing else. */
export async function verifyFiles(root: string, manifest: BackupManifest, extracted: ReadonlySet<string>): Promise<void> {
  for (const path of extracted) {
    if (path !== MANIFEST_NAME && !manifest.files.some((f) => f.path === path)) {
      throw new BackupError(`the backup holds ${path}, which its manifest does not list`);
    }
  }
  for (const expected of manifest.files) {
    if (!extracted.has(expected.path)) {
      throw new BackupError(`the backup is incomplete: ${expected.path} is missing (a partial download or copy?)`);
    }
    const actual = await describeFile(root, expected.path);
    if (actual.bytes !== expected.bytes) {
      throw new BackupError(`the backup is incomplete or corrupt: ${expected.path} has ${actual.bytes} bytes, the manifest says ${expected.bytes}`);
    }
    if (actual.sha256 !== expected.sha256) {
      throw new BackupError(`the backup is corrupt: ${expected.path} does not match its sha256 in the manifest`);
    }
  }
}
