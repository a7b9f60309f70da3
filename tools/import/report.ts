// The import report: one JSON line per photo and attempt, appended as each
// photo finishes, so an interrupted import leaves a valid report behind.
// It is also the import's memory: the FacePass server gives every upload a
// new face token (an image id and token are random, not derived from the
// bytes), so re-uploading a photo would enrol the same person twice. A
// re-run reads the report and, per photo content (sha256 of its bytes):
// - enrolled (added and bound to this group)  -> skipped;
// - added but not bound (bind failed)          -> only bound, with the same token;
// - refused by the server (no face, quality)   -> skipped (same bytes, same refusal);
//   --retry-refused uploads them again;
// - failed otherwise (network, server error)   -> tried again.
import { createReadStream, existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

export type ImportStatus = 'enrolled' | 'refused' | 'failed' | 'duplicate';

export interface ReportLine {
  path: string;
  sha256: string;
  user_id: string;
  user_info?: string;
  group: string;
  status: ImportStatus;
  face_token?: string;
  image_id?: string;
  /** The server's FacePass code and message for a refusal or failure. */
  code?: number;
  message?: string;
  /** Failed admission checks (BAD_QUALITY) or FACE_NOT_FOUND. */
  reasons?: string[];
  /** For a duplicate: the photo with the same bytes that was imported. */
  same_as?: string;
  /** Added but not yet bound: the next run binds this token instead of uploading again. */
  bound?: boolean;
  at: string;
}

/** What earlier runs achieved, by photo content, for one group. */
export class ImportMemory {
  private readonly latest = new Map<string, ReportLine>();

  static async load(file: string, group: string): Promise<ImportMemory> {
    const memory = new ImportMemory();
    if (!existsSync(file)) return memory;
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const text of lines) {
      if (text.trim() === '') continue;
      let line: ReportLine;
      try {
        line = JSON.parse(text) as ReportLine;
      } catch {
        continue; // a line cut off by a crash: that photo is simply tried again
      }
      if (line.group === group && typeof line.sha256 === 'string' && line.status !== 'duplicate') memory.latest.set(line.sha256, line);
    }
    return memory;
  }

  get(sha256: string): ReportLine | undefined {
    return this.latest.get(sha256);
  }
}

export class ReportWriter {
  /** Appends are chained so lines never interleave. */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  write(line: ReportLine): Promise<void> {
    this.tail = this.tail.then(() => appendFile(this.file, JSON.stringify(line) + '\n'));
    return this.tail;
  }

  flush(): Promise<void> {
    return this.tail;
  }
}
