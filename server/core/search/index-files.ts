// The approximate index's files beside the store (DATA_DIR/index), one pair
// per group:
//
//   group-<groupId>.json         header line, then JSON (IndexFileMeta)
//   group-<groupId>.<nonce>.ivf  the lists (binary, little-endian):
//                                u32 lists, u32 dimensions, the centroids
//                                (lists x dimensions int8), u32 faces per
//                                list, then each list's codes in turn
//
// The header line is `facepass-index 2 <sha256 of the JSON>`; the JSON names
// the lists file with its size and sha256, the group version the pair
// reflects, the feature model and code scale that made the vectors, and the
// tokens and users of the listed faces in file order. A pair is used only
// when every one of those checks out (the lists file is hashed before it is
// read); otherwise it is discarded and the group is rebuilt from the store.
// Whether the store can bring the pair up to date (its version is still in
// the kept change log, of this lineage) is the caller's check (FaceIndex,
// store.deltaSince). Files of format 1 (HNSW graphs, `.usearch`) are
// discarded the same way.
//
// Saving is crash-safe: the lists go to a new file (temp, fsync, rename,
// directory fsync), then the JSON (temp, fsync, rename, directory fsync)
// switches to it, then the group's other lists files are deleted. A crash
// leaves the old pair or the new one, and at worst an orphan file that the
// next start deletes.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BindingUser } from '../../../storage/store.js';
import type { FaceToken, GroupId } from '../ids.js';
import { ApproxGallery, type IvfLists, type IvfParams } from './approx-gallery.js';

const MAGIC = 'facepass-index';
const FORMAT = 2;

/** A listed face, as persisted: [token, userId?, userInfo?]. */
export type ListEntry = [token: FaceToken, userId?: string | null, userInfo?: string | null];

export interface IndexFileMeta {
  format: number;
  groupId: number;
  /** The group version the lists and tables reflect. */
  version: number;
  /** The engine's searchModel that made the features. */
  model: string;
  dimensions: number;
  /** quantize.ts SCALE of the codes. */
  scale: number;
  lists: { file: string; bytes: number; sha256: string };
  /** The listed faces in file order (list 0's rows, then list 1's, ...). */
  entries: ListEntry[];
  /** Bound faces not in a list at save time: their features are read from the store on load. */
  staged: FaceToken[];
  savedAt: number;
}

export interface Expected {
  model: string;
  dimensions: number;
  scale: number;
  /** Parameters the loaded gallery searches (probes) and trains (lists) with. */
  params: IvfParams;
}

export type LoadResult = { ok: true; meta: IndexFileMeta; gallery: ApproxGallery } | { ok: false; reason: string };

export interface SaveResult {
  bytes: number;
  /** The synchronous part, the gallery's snapshot (copies): how long the event loop waited. Writing is asynchronous. */
  blockedMs: number;
  totalMs: number;
}

const metaName = (groupId: number) => `group-${groupId}.json`;
const LISTS = /^group-(\d+)\.[0-9a-f]+\.ivf$/;
const META = /^group-(\d+)\.json$/;
/** Left by format 1 (HNSW graphs). */
const LEGACY_GRAPH = /^group-\d+\.[0-9a-f]+\.usearch$/;
const u32 = (values: ArrayLike<number>) => Buffer.from(Uint32Array.from(values).buffer);
/** `facepass-index 2 <64 hex digits>\n` */
const HEADER_BYTES = MAGIC.length + 1 + String(FORMAT).length + 1 + 64 + 1;

export class IndexFiles {
  constructor(readonly dir: string) {}

  /** Creates the directory; deletes temp files and lists files no JSON names (left by a crash). */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const named = new Set<string>();
    for (const name of names.filter((n) => META.test(n))) {
      const meta = await this.readMeta(Number(META.exec(name)![1])).catch(() => undefined);
      if (meta && typeof meta !== 'string') named.add(meta.lists.file);
    }
    for (const name of names) {
      if (name.endsWith('.tmp') || LEGACY_GRAPH.test(name) || (LISTS.test(name) && !named.has(name))) await rm(join(this.dir, name), { force: true });
    }
  }

  /** Group ids that have a JSON file. */
  async groups(): Promise<number[]> {
    return (await readdir(this.dir)).flatMap((n) => (META.test(n) ? [Number(META.exec(n)![1])] : []));
  }

  async save(groupId: GroupId, gallery: ApproxGallery, info: { version: number; model: string; scale: number }): Promise<SaveResult> {
    const started = performance.now();
    const listsFile = `group-${groupId}.${randomBytes(6).toString('hex')}.ivf`;
    const listsTemp = join(this.dir, `${listsFile}.tmp`);
    try {
      // Copies, taken together with the caller's version; everything after this may interleave with changes.
      const { lists, staged } = gallery.snapshot();
      const blockedMs = performance.now() - started;
      await writeLists(listsTemp, lists, gallery.dimensions);
      await syncFile(listsTemp);
      const { bytes, sha256 } = await hashFile(listsTemp);
      await rename(listsTemp, join(this.dir, listsFile));
      await syncDir(this.dir);
      const head: Omit<IndexFileMeta, 'entries'> = {
        format: FORMAT,
        groupId,
        version: info.version,
        model: info.model,
        dimensions: gallery.dimensions,
        scale: info.scale,
        lists: { file: listsFile, bytes, sha256 },
        staged,
        savedAt: Date.now(),
      };
      const metaTemp = join(this.dir, `${metaName(groupId)}.tmp`);
      const tableBytes = await writeTable(metaTemp, head, lists);
      await rename(metaTemp, join(this.dir, metaName(groupId)));
      await syncDir(this.dir);
      // The group's earlier lists files, found by name (reading the old table back would cost a parse of it).
      for (const name of await readdir(this.dir)) {
        if (name !== listsFile && LISTS.exec(name)?.[1] === String(groupId)) await rm(join(this.dir, name), { force: true });
      }
      return { bytes: bytes + tableBytes, blockedMs, totalMs: performance.now() - started };
    } catch (err) {
      await rm(listsTemp, { force: true });
      throw err;
    }
  }

  /** The group's pair, checked against what this server needs, as a gallery. */
  async load(groupId: GroupId, expected: Expected, searchThreads: number): Promise<LoadResult> {
    const meta = await this.readMeta(groupId).catch((err: Error) => `unreadable: ${err.message}`);
    if (typeof meta === 'string') return { ok: false, reason: meta };
    if (meta.groupId !== groupId) return { ok: false, reason: 'another group' };
    if (meta.model !== expected.model) return { ok: false, reason: `feature model ${meta.model}, the engine's is ${expected.model}` };
    if (meta.dimensions !== expected.dimensions || meta.scale !== expected.scale) return { ok: false, reason: 'other vector dimensions or code scale' };
    if (LISTS.exec(meta.lists.file)?.[1] !== String(groupId)) return { ok: false, reason: 'names the lists file of another group' };
    const path = join(this.dir, meta.lists.file);
    const { bytes, sha256 } = await hashFile(path).catch(() => ({ bytes: -1, sha256: '' }));
    if (bytes !== meta.lists.bytes || sha256 !== meta.lists.sha256) return { ok: false, reason: 'lists file missing or damaged (size or sha256)' };
    const lists = await readLists(path, meta).catch((err: Error) => err.message);
    if (typeof lists === 'string') return { ok: false, reason: `lists file unreadable: ${lists}` };
    try {
      return { ok: true, meta, gallery: ApproxGallery.restore(meta.dimensions, lists, expected.params, searchThreads) };
    } catch (err) {
      return { ok: false, reason: `lists file inconsistent: ${(err as Error).message}` };
    }
  }

  async remove(groupId: GroupId | number): Promise<void> {
    const meta = await this.readMeta(groupId).catch(() => undefined);
    await rm(join(this.dir, metaName(groupId)), { force: true });
    if (meta && typeof meta !== 'string') await rm(join(this.dir, meta.lists.file), { force: true });
  }

  /** The parsed JSON, a string saying why it is not usable, or a rejection when there is no file. */
  private async readMeta(groupId: number): Promise<IndexFileMeta | string> {
    const text = await readFile(join(this.dir, metaName(groupId)), 'utf8');
    const newline = text.indexOf('\n');
    const [magic, format, sum] = text.slice(0, Math.max(0, newline)).split(' ');
    if (magic !== MAGIC || Number(format) !== FORMAT) return 'not an index file of this format';
    const body = text.slice(newline + 1);
    if (createHash('sha256').update(body).digest('hex') !== sum) return 'damaged (sha256)';
    const meta = JSON.parse(body) as IndexFileMeta;
    if (!validMeta(meta)) return 'malformed';
    return meta;
  }
}

function entryOf(token: FaceToken, user: BindingUser | undefined): ListEntry {
  return user ? [token, user.userId ?? null, user.userInfo ?? null] : [token];
}

function userOfEntry(entry: ListEntry): BindingUser | undefined {
  const [, userId, userInfo] = entry;
  if ((userId === undefined || userId === null) && (userInfo === undefined || userInfo === null)) return undefined;
  return { ...(userId !== undefined && userId !== null ? { userId } : {}), ...(userInfo !== undefined && userInfo !== null ? { userInfo } : {}) };
}

/** Appends whole buffers to a file, asynchronously (FileHandle.write may write less than asked). */
function appender(handle: FileHandle, onBytes: (bytes: Uint8Array) => void = () => {}) {
  let position = 0;
  const write = async (bytes: ArrayBufferView, at?: number) => {
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (at === undefined) onBytes(view);
    let offset = at ?? position;
    for (let done = 0; done < view.length; ) {
      const { bytesWritten } = await handle.write(view, done, view.length - done, offset);
      done += bytesWritten;
      offset += bytesWritten;
    }
    if (at === undefined) position = offset;
  };
  return { write, skip: (bytes: number) => void (position += bytes), get position() { return position; } };
}

async function writeLists(path: string, saved: IvfLists, dimensions: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const out = appender(handle);
    await out.write(u32([saved.lists.length, dimensions]));
    await out.write(saved.centroids);
    await out.write(u32(saved.lists.map((l) => l.tokens.length)));
    for (const list of saved.lists) await out.write(list.codes);
  } finally {
    await handle.close();
  }
}

/**
 * The JSON table, written a list at a time so that encoding a million
 * entries never holds the event loop: a fixed-length header line left
 * blank, the body in pieces (hashed as they go), then the header with the
 * body's sha256. The body is one JSON object with `entries` last.
 */
async function writeTable(path: string, head: Omit<IndexFileMeta, 'entries'>, saved: IvfLists): Promise<number> {
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  try {
    const out = appender(handle, (bytes) => hash.update(bytes));
    out.skip(HEADER_BYTES);
    const text = (s: string) => out.write(Buffer.from(s));
    await text(`${JSON.stringify(head).slice(0, -1)},"entries":[`);
    let first = true;
    for (const list of saved.lists) {
      if (list.tokens.length === 0) continue;
      await text((first ? '' : ',') + list.tokens.map((token, i) => JSON.stringify(entryOf(token, list.users[i]))).join(','));
      first = false;
    }
    await text(']}');
    const header = Buffer.from(`${MAGIC} ${FORMAT} ${hash.digest('hex')}\n`);
    if (header.length !== HEADER_BYTES) throw new Error('index table header of unexpected length');
    await out.write(header, 0);
    await handle.sync();
    return out.position;
  } finally {
    await handle.close();
  }
}

/** The lists file as the gallery takes it: every list's codes in a buffer of its own. */
async function readLists(path: string, meta: IndexFileMeta): Promise<IvfLists> {
  const handle = await open(path, 'r');
  try {
    let position = 0;
    const read = async (length: number) => {
      const out = new Uint8Array(length);
      const { bytesRead } = await handle.read(out, 0, length, position);
      if (bytesRead !== length) throw new Error('truncated');
      position += length;
      return out;
    };
    const [listCount, dimensions] = new Uint32Array((await read(8)).buffer) as unknown as [number, number];
    // Every size is checked against the file's (hashed) length before anything is allocated.
    const d = meta.dimensions;
    if (dimensions !== d || 8 + listCount * (d + 4) + meta.entries.length * d !== meta.lists.bytes) throw new Error('header does not match the JSON');
    const centroids = new Int8Array((await read(listCount * d)).buffer);
    const counts = new Uint32Array((await read(listCount * 4)).buffer);
    if (counts.reduce((a, b) => a + b, 0) !== meta.entries.length) throw new Error('lists and table disagree on the number of faces');
    const lists: IvfLists['lists'] = [];
    let entry = 0;
    for (const count of counts) {
      const codes = new Int8Array((await read(count * dimensions)).buffer);
      const entries = meta.entries.slice(entry, entry + count);
      entry += count;
      lists.push({ tokens: entries.map((e) => e[0]), users: entries.map(userOfEntry), codes });
    }
    if (position !== meta.lists.bytes) throw new Error('bytes after the last list');
    return { centroids, lists };
  } finally {
    await handle.close();
  }
}

const optionalString = (v: unknown) => v === undefined || v === null || typeof v === 'string';

function validMeta(meta: IndexFileMeta): boolean {
  const int = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  return (
    meta !== null &&
    typeof meta === 'object' &&
    int(meta.groupId) &&
    int(meta.version) &&
    typeof meta.model === 'string' &&
    int(meta.dimensions) &&
    typeof meta.scale === 'number' &&
    typeof meta.lists?.file === 'string' &&
    LISTS.test(meta.lists.file) &&
    Array.isArray(meta.entries) &&
    meta.entries.every((e) => Array.isArray(e) && e.length <= 3 && typeof e[0] === 'string' && optionalString(e[1]) && optionalString(e[2])) &&
    Array.isArray(meta.staged) &&
    meta.staged.every((t) => typeof t === 'string') &&
    // Each face once: listed or staged.
    new Set([...meta.entries.map((e) => e[0]), ...meta.staged]).size === meta.entries.length + meta.staged.length
  );
}

async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const { size } = await stat(path);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return { bytes: size, sha256: hash.digest('hex') };
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the renames are still atomic.
  } finally {
    await handle.close();
  }
}
