// The approximate index's files beside the store (DATA_DIR/index), one pair
// per group:
//
//   group-<groupId>.json            header line, then JSON (IndexFileMeta)
//   group-<groupId>.<nonce>.usearch the HNSW graph (usearch's own format)
//
// The header line is `facepass-index 1 <sha256 of the JSON>`; the JSON names
// the graph file with its size and sha256, the group version the pair
// reflects, the feature model and code scale that made the vectors, and the
// key -> token table. A pair is used only when every one of those checks
// out (the graph is hashed before usearch reads it: a damaged file never
// reaches the native loader); otherwise it is discarded and the group is
// rebuilt from the store. Whether the store can bring the pair up to date
// (its version is still in the kept change log, of this lineage) is the
// caller's check (FaceIndex, store.deltaSince).
//
// Saving is crash-safe: the graph goes to a new file (temp, fsync, rename),
// then the JSON (temp, fsync, rename) switches to it, then the previous
// graph is deleted. A crash leaves the old pair or the new one, and at worst
// an orphan graph that the next start deletes.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GroupId } from '../ids.js';
import type { FaceToken } from '../ids.js';
import type { ApproxGallery, GraphEntry } from './approx-gallery.js';
import { Hnsw, type HnswParams } from './hnsw.js';

const MAGIC = 'facepass-index';
const FORMAT = 1;

export interface IndexFileMeta {
  format: number;
  groupId: number;
  /** The group version the graph and tables reflect. */
  version: number;
  /** The engine's searchModel that made the features. */
  model: string;
  dimensions: number;
  /** quantize.ts SCALE of the codes in the graph. */
  scale: number;
  params: HnswParams;
  graph: { file: string; bytes: number; sha256: string };
  nextKey: number;
  entries: GraphEntry[];
  /** Bound faces not yet in the graph at save time: their features are read from the store on load. */
  staged: FaceToken[];
  savedAt: number;
}

export interface Expected {
  model: string;
  dimensions: number;
  scale: number;
  expansionSearch: number;
}

export type LoadResult = { ok: true; meta: IndexFileMeta; graph: Hnsw } | { ok: false; reason: string };

export interface SaveResult {
  bytes: number;
  /** The synchronous part (native graph write, table encoding): how long the event loop waited. */
  blockedMs: number;
  totalMs: number;
}

const metaName = (groupId: number) => `group-${groupId}.json`;
const GRAPH = /^group-(\d+)\.[0-9a-f]+\.usearch$/;
const META = /^group-(\d+)\.json$/;

export class IndexFiles {
  constructor(readonly dir: string) {}

  /** Creates the directory; deletes temp files and graphs no JSON names (left by a crash). */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const named = new Set<string>();
    for (const name of names.filter((n) => META.test(n))) {
      const meta = await this.readMeta(Number(META.exec(name)![1])).catch(() => undefined);
      if (meta && typeof meta !== 'string') named.add(meta.graph.file);
    }
    for (const name of names) {
      if (name.endsWith('.tmp') || (GRAPH.test(name) && !named.has(name))) await rm(join(this.dir, name), { force: true });
    }
  }

  /** Group ids that have a JSON file. */
  async groups(): Promise<number[]> {
    return (await readdir(this.dir)).flatMap((n) => (META.test(n) ? [Number(META.exec(n)![1])] : []));
  }

  async save(groupId: GroupId, gallery: ApproxGallery, info: { version: number; model: string; scale: number }): Promise<SaveResult> {
    const started = performance.now();
    const graphFile = `group-${groupId}.${randomBytes(6).toString('hex')}.usearch`;
    const graphTemp = join(this.dir, `${graphFile}.tmp`);
    const { entries, staged, nextKey } = gallery.saveGraph(graphTemp);
    const blockedMs = performance.now() - started;
    try {
      await syncFile(graphTemp);
      const { bytes, sha256 } = await hashFile(graphTemp);
      await rename(graphTemp, join(this.dir, graphFile));
      const meta: IndexFileMeta = {
        format: FORMAT,
        groupId,
        version: info.version,
        model: info.model,
        dimensions: gallery.dimensions,
        scale: info.scale,
        params: { ...gallery.params },
        graph: { file: graphFile, bytes, sha256 },
        nextKey,
        entries,
        staged,
        savedAt: Date.now(),
      };
      const previous = await this.readMeta(groupId).catch(() => undefined);
      const body = JSON.stringify(meta);
      const text = `${MAGIC} ${FORMAT} ${createHash('sha256').update(body).digest('hex')}\n${body}`;
      const metaTemp = join(this.dir, `${metaName(groupId)}.tmp`);
      const handle = await open(metaTemp, 'w');
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(metaTemp, join(this.dir, metaName(groupId)));
      await syncDir(this.dir);
      if (previous && typeof previous !== 'string' && previous.graph.file !== graphFile) await rm(join(this.dir, previous.graph.file), { force: true });
      return { bytes: bytes + text.length, blockedMs, totalMs: performance.now() - started };
    } catch (err) {
      await rm(graphTemp, { force: true });
      throw err;
    }
  }

  /** The group's pair, checked against what this server needs; the graph loaded into memory. */
  async load(groupId: GroupId, expected: Expected): Promise<LoadResult> {
    const meta = await this.readMeta(groupId).catch((err: Error) => `unreadable: ${err.message}`);
    if (typeof meta === 'string') return { ok: false, reason: meta };
    if (meta.groupId !== groupId) return { ok: false, reason: 'another group' };
    if (meta.model !== expected.model) return { ok: false, reason: `feature model ${meta.model}, the engine's is ${expected.model}` };
    if (meta.dimensions !== expected.dimensions || meta.scale !== expected.scale) return { ok: false, reason: 'other vector dimensions or code scale' };
    const path = join(this.dir, meta.graph.file);
    const { bytes, sha256 } = await hashFile(path).catch(() => ({ bytes: -1, sha256: '' }));
    if (bytes !== meta.graph.bytes || sha256 !== meta.graph.sha256) return { ok: false, reason: 'graph file missing or damaged (size or sha256)' };
    const graph = new Hnsw(meta.dimensions, { ...meta.params, expansionSearch: expected.expansionSearch });
    try {
      graph.load(path);
    } catch (err) {
      return { ok: false, reason: `graph unreadable: ${(err as Error).message}` };
    }
    if (graph.size !== meta.entries.length) return { ok: false, reason: `graph holds ${graph.size} faces, the table ${meta.entries.length}` };
    return { ok: true, meta, graph };
  }

  async remove(groupId: GroupId | number): Promise<void> {
    const meta = await this.readMeta(groupId).catch(() => undefined);
    await rm(join(this.dir, metaName(groupId)), { force: true });
    if (meta && typeof meta !== 'string') await rm(join(this.dir, meta.graph.file), { force: true });
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
    int(meta.params?.connectivity) &&
    int(meta.params?.expansionAdd) &&
    typeof meta.graph?.file === 'string' &&
    GRAPH.test(meta.graph.file) &&
    int(meta.nextKey) &&
    Array.isArray(meta.entries) &&
    meta.entries.every((e) => Array.isArray(e) && int(e[0]) && (e[0] as number) < meta.nextKey && typeof e[1] === 'string') &&
    Array.isArray(meta.staged) &&
    meta.staged.every((t) => typeof t === 'string')
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
