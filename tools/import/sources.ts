// What to import: one photo per person, from a folder (the user id is the
// file name without its extension) or from a CSV `path,user_id,user_info`
// (a header row with those names is optional; paths are relative to the
// CSV's folder). Rows are checked up front so a typo stops the import
// before anything is uploaded.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';

export interface PhotoEntry {
  /** Absolute path of the photo. */
  path: string;
  userId: string;
  userInfo?: string;
}

export class SourceError extends Error {
  override name = 'SourceError';
}

/** The FacePass server accepts these (README: PNG/JPEG). */
const PHOTO_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

export async function listPhotos(input: string): Promise<PhotoEntry[]> {
  const full = resolve(input);
  let info;
  try {
    info = await stat(full);
  } catch {
    throw new SourceError(`${input}: no such file or folder`);
  }
  return info.isDirectory() ? fromFolder(full) : fromCsv(full);
}

async function fromFolder(dir: string): Promise<PhotoEntry[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && PHOTO_EXTENSIONS.has(extname(entry.name).toLowerCase()))
    .map((entry) => entry.name)
    .sort();
  return names.map((name) => ({ path: join(dir, name), userId: basename(name, extname(name)) }));
}

async function fromCsv(file: string): Promise<PhotoEntry[]> {
  let rows: string[][];
  try {
    rows = parse(await readFile(file), { relax_column_count: true, skip_empty_lines: true, trim: true, bom: true }) as string[][];
  } catch (err) {
    throw new SourceError(`${file}: not a readable CSV (${(err as Error).message})`);
  }
  const header = rows[0]?.map((cell) => cell.toLowerCase());
  if (header && header[0] === 'path' && header[1] === 'user_id') rows = rows.slice(1);
  const base = dirname(file);
  return rows.map((row, i) => {
    const line = i + 1 + (header && header[0] === 'path' ? 1 : 0);
    const [path, userId, userInfo] = row;
    if (!path || !userId) throw new SourceError(`${file} line ${line}: needs path,user_id[,user_info]`);
    if (row.length > 3) throw new SourceError(`${file} line ${line}: more than 3 columns (quote a user_info that holds commas)`);
    return { path: resolve(base, path), userId, ...(userInfo ? { userInfo } : {}) };
  });
}
