// Model file integrity: the engine refuses to start unless every model file
// matches the sha256 recorded in the model folder's manifest.json (written
// by tools/fetch-models.mjs, same format as models/manifest.json). A model
// swapped or corrupted on disk would otherwise silently produce features
// that do not match those already stored on terminals.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface ModelManifest {
  package?: string;
  version?: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

export class ModelIntegrityError extends Error {
  constructor(
    message: string,
    /** The offending file (or manifest.json itself). */
    readonly file: string,
  ) {
    super(message);
    this.name = 'ModelIntegrityError';
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function readManifest(modelDir: string): Promise<ModelManifest> {
  const path = join(modelDir, 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ModelIntegrityError(`model manifest ${path} is missing or not JSON: ${(err as Error).message}`, path);
  }
  const files = (parsed as ModelManifest | null)?.files;
  if (typeof files !== 'object' || files === null) {
    throw new ModelIntegrityError(`model manifest ${path} has no "files" table`, path);
  }
  return parsed as ModelManifest;
}

/**
 * Checks that each of `required` is listed in the manifest and that the file
 * on disk has the listed size and sha256. Returns file name -> sha256.
 */
export async function verifyModelFiles(modelDir: string, required: readonly string[]): Promise<Record<string, string>> {
  const manifest = await readManifest(modelDir);
  const hashes: Record<string, string> = {};
  for (const name of required) {
    const entry = manifest.files[name];
    const path = join(modelDir, name);
    if (!entry || typeof entry.sha256 !== 'string') {
      throw new ModelIntegrityError(`model file ${name} is not listed in ${join(modelDir, 'manifest.json')}`, path);
    }
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new ModelIntegrityError(`model file ${path} is missing`, path);
    }
    // The size check is free and catches truncated downloads before hashing.
    if (typeof entry.bytes === 'number' && size !== entry.bytes) {
      throw new ModelIntegrityError(`model file ${path} has ${size} bytes, manifest says ${entry.bytes}`, path);
    }
    const actual = await sha256File(path);
    if (actual !== entry.sha256.toLowerCase()) {
      throw new ModelIntegrityError(`model file ${path} sha256 ${actual} does not match manifest ${entry.sha256}`, path);
    }
    hashes[name] = actual;
  }
  return hashes;
}
