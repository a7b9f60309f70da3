// One import: ensure the group, then every photo through a bounded pool of
// workers (at most `concurrency` uploads in flight): hash, consult the
// report of earlier runs, add the face, bind it, append the outcome.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { BAD_QUALITY, FACE_NOT_FOUND, GROUP_NAME_CONFLICT, type Envelope, type FacePassApi } from './facepass-api.js';
import type { Counts, Progress } from './progress.js';
import { ImportMemory, ReportWriter, type ReportLine } from './report.js';
import type { PhotoEntry } from './sources.js';

export interface ImportOptions {
  entries: PhotoEntry[];
  group: string;
  api: FacePassApi;
  concurrency: number;
  reportFile: string;
  retryRefused: boolean;
  progress: Progress;
}

export interface ImportSummary extends Counts {
  duplicate: number;
  seconds: number;
  faces_per_second: number;
  report: string;
}

export class ImportAborted extends Error {
  override name = 'ImportAborted';
}

/** Image errors (1041xx), no face and bad quality are answers about the photo itself: retrying the same bytes changes nothing. */
const isRefusal = (code: number) => code === FACE_NOT_FOUND || code === BAD_QUALITY || (code >= 104100 && code < 104200);

function reasonsOf(answer: Envelope): string[] {
  if (answer.code === BAD_QUALITY) return answer.message.replace(/^BAD_QUALITY:\s*/, '').split(',').filter(Boolean);
  return [answer.message.split(':')[0]!];
}

export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const created = await options.api.createGroup(options.group);
  if (created.status === 401) throw new ImportAborted('the server refused the key (HTTP 401): an admin key is needed');
  if (created.code !== 0 && created.code !== GROUP_NAME_CONFLICT) throw new ImportAborted(`cannot create group ${options.group}: ${created.message}`);

  const memory = await ImportMemory.load(options.reportFile, options.group);
  const report = new ReportWriter(options.reportFile);
  const counts: Counts = { done: 0, total: options.entries.length, enrolled: 0, refused: 0, failed: 0, skipped: 0 };
  let duplicate = 0;
  const seen = new Map<string, string>();
  let aborted: ImportAborted | undefined;

  const record = async (entry: PhotoEntry, sha256: string, outcome: Omit<ReportLine, 'path' | 'sha256' | 'user_id' | 'group' | 'at'>) => {
    await report.write({
      path: entry.path,
      sha256,
      user_id: entry.userId,
      ...(entry.userInfo ? { user_info: entry.userInfo } : {}),
      group: options.group,
      ...outcome,
      at: new Date().toISOString(),
    });
  };

  const bindAndRecord = async (entry: PhotoEntry, sha256: string, faceToken: string, imageId: string | undefined) => {
    const ids = { face_token: faceToken, ...(imageId ? { image_id: imageId } : {}) };
    const bound = await options.api.bind(options.group, faceToken);
    if (bound.code === 0) {
      counts.enrolled++;
      await record(entry, sha256, { status: 'enrolled', ...ids, bound: true });
    } else {
      counts.failed++;
      await record(entry, sha256, { status: 'failed', ...ids, bound: false, code: bound.code, message: bound.message });
    }
  };

  const importOne = async (entry: PhotoEntry): Promise<void> => {
    let bytes: Buffer;
    try {
      bytes = await readFile(entry.path);
    } catch (err) {
      counts.failed++;
      await record(entry, '', { status: 'failed', message: `cannot read: ${(err as Error).message}` });
      return;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const first = seen.get(sha256);
    if (first !== undefined) {
      duplicate++;
      counts.skipped++;
      await record(entry, sha256, { status: 'duplicate', same_as: first });
      return;
    }
    seen.set(sha256, entry.path);
    const earlier = memory.get(sha256);
    if (earlier?.status === 'enrolled' || (earlier?.status === 'refused' && !options.retryRefused)) {
      counts.skipped++;
      return;
    }
    if (earlier?.face_token && earlier.bound === false) {
      await bindAndRecord(entry, sha256, earlier.face_token, earlier.image_id);
      return;
    }
    const added = await options.api.addFace(bytes, basename(entry.path));
    if (added.status === 401) throw new ImportAborted('the server refused the key (HTTP 401): an admin key is needed');
    if (added.code === 0 && added.data.face_token) {
      await bindAndRecord(entry, sha256, added.data.face_token, added.data.image_id);
    } else if (isRefusal(added.code)) {
      counts.refused++;
      await record(entry, sha256, {
        status: 'refused',
        code: added.code,
        message: added.message,
        reasons: reasonsOf(added),
        ...(added.data.image_id ? { image_id: added.data.image_id } : {}),
      });
    } else {
      counts.failed++;
      await record(entry, sha256, { status: 'failed', code: added.code, message: added.message });
    }
  };

  let next = 0;
  const worker = async () => {
    while (!aborted && next < options.entries.length) {
      const entry = options.entries[next++]!;
      try {
        await importOne(entry);
      } catch (err) {
        if (err instanceof ImportAborted) {
          aborted = err;
          return;
        }
        counts.failed++;
        await record(entry, '', { status: 'failed', message: err instanceof Error ? err.message : String(err) });
      }
      counts.done++;
      options.progress.update(counts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  await report.flush();
  options.progress.stop(counts);
  if (aborted) throw aborted;
  const seconds = (performance.now() - started) / 1000;
  return { ...counts, duplicate, seconds: Number(seconds.toFixed(2)), faces_per_second: Number((counts.enrolled / seconds).toFixed(2)), report: options.reportFile };
}
