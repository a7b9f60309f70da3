// One import: ensure the group, then every photo through a bounded pool of
// workers (at most `concurrency` uploads in flight): hash, consult the
// report of earlier runs, enrol through the dialect, append the outcome.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ImportAborted, type Enroller, type Outcome } from './enrollers.js';
import type { Counts, Progress } from './progress.js';
import { ImportMemory, ReportWriter, type ReportLine } from './report.js';
import type { PhotoEntry } from './sources.js';

export interface ImportOptions {
  entries: PhotoEntry[];
  group: string;
  enroller: Enroller;
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

export { ImportAborted };

type Fields = Omit<ReportLine, 'path' | 'sha256' | 'user_id' | 'user_info' | 'group' | 'at'>;

function fieldsOf(outcome: Outcome): Fields {
  const ids = {
    ...('faceToken' in outcome && outcome.faceToken ? { face_token: outcome.faceToken } : {}),
    ...(outcome.imageId ? { image_id: outcome.imageId } : {}),
  };
  switch (outcome.kind) {
    case 'enrolled':
      return { status: 'enrolled', ...ids, bound: true, ...(outcome.message ? { message: outcome.message } : {}) };
    case 'refused':
      return { status: 'refused', ...ids, code: outcome.code, message: outcome.message, reasons: outcome.reasons };
    case 'failed':
      return {
        status: 'failed',
        ...ids,
        ...(outcome.bound === false ? { bound: false } : {}),
        ...(outcome.code !== undefined ? { code: outcome.code } : {}),
        message: outcome.message,
      };
  }
}

export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  await options.enroller.prepare(options.group);
  const memory = await ImportMemory.load(options.reportFile, options.group);
  const report = new ReportWriter(options.reportFile);
  const counts: Counts = { done: 0, total: options.entries.length, enrolled: 0, refused: 0, failed: 0, skipped: 0 };
  let duplicate = 0;
  const seen = new Map<string, string>();
  let aborted: ImportAborted | undefined;

  const record = (entry: PhotoEntry, sha256: string, fields: Fields) =>
    report.write({
      path: entry.path,
      sha256,
      user_id: entry.userId,
      ...(entry.userInfo ? { user_info: entry.userInfo } : {}),
      group: options.group,
      ...fields,
      at: new Date().toISOString(),
    });

  const finish = async (entry: PhotoEntry, sha256: string, outcome: Outcome) => {
    if (outcome.kind === 'enrolled') counts.enrolled++;
    else if (outcome.kind === 'refused') counts.refused++;
    else counts.failed++;
    await record(entry, sha256, fieldsOf(outcome));
  };

  const importOne = async (entry: PhotoEntry): Promise<void> => {
    let bytes: Buffer;
    try {
      bytes = await readFile(entry.path);
    } catch (err) {
      await finish(entry, '', { kind: 'failed', message: `cannot read: ${(err as Error).message}` });
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
    if (earlier?.face_token && earlier.bound === false && options.enroller.bindOnly) {
      await finish(entry, sha256, await options.enroller.bindOnly(options.group, earlier.face_token, earlier.image_id));
      return;
    }
    await finish(entry, sha256, await options.enroller.enrol(entry, bytes, options.group));
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
        await finish(entry, '', { kind: 'failed', message: err instanceof Error ? err.message : String(err) });
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
