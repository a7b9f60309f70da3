// Request bodies with limits enforced before and while reading: a body over
// the limit is refused from its Content-Length before any byte is parsed,
// and a chunked body is cut off as soon as it crosses the limit.
import { Writable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import formidable, { errors as formidableErrors } from 'formidable';
import type VolatileFile from 'formidable/VolatileFile.js';
import { ErrorCode, FaceError } from '../core/errors.js';

export interface UploadedFile {
  bytes: Buffer;
  filename: string | null;
  mimetype: string | null;
}

export interface MultipartBody {
  fields: Map<string, string>;
  files: Map<string, UploadedFile>;
}

function tooLarge(limit: number, cause?: unknown): FaceError {
  return new FaceError(ErrorCode.RequestTooLarge, `request body exceeds ${limit} bytes`, { limit }, { cause });
}

/** Refuses early from the declared length, so nothing of an oversized body is read. */
export function assertDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
}

/** The raw body, at most `limit` bytes. */
export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  assertDeclaredLength(req, limit);
  try {
    return await getRawBody(req, { limit, length: req.headers['content-length'] });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') throw tooLarge(limit, err);
    throw new FaceError(ErrorCode.IllegalArgument, 'request body could not be read', { args: ['body'] }, { cause: err });
  }
}

/**
 * A JSON object body. An empty body is `{}` (so missing fields are reported
 * as missing arguments); anything that is not a JSON object is ILLEGAL_JSON_BODY.
 */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const raw = await readRawBody(req, limit);
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FaceError(ErrorCode.IllegalJsonBody, 'request body is not valid JSON', {}, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FaceError(ErrorCode.IllegalJsonBody, 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * A multipart/form-data body, files kept in memory (never on disk: the
 * total is bounded by `limit`). Parts without a Content-Type are fields.
 */
export async function readMultipart(req: IncomingMessage, limit: number, maxFiles = 8): Promise<MultipartBody> {
  assertDeclaredLength(req, limit);
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw new FaceError(ErrorCode.IllegalArgument, 'expected a multipart/form-data body', { args: ['Content-Type'] });
  }
  const chunks = new Map<VolatileFile, Buffer[]>();
  const form = formidable({
    maxFileSize: limit,
    maxTotalFileSize: limit,
    maxFieldsSize: Math.min(limit, 1024 * 1024),
    maxFiles,
    allowEmptyFiles: true,
    minFileSize: 0,
    fileWriteStreamHandler: (file?: VolatileFile) => {
      const parts: Buffer[] = [];
      if (file) chunks.set(file, parts);
      return new Writable({
        write(chunk: Buffer, _encoding, done) {
          parts.push(chunk);
          done();
        },
      });
    },
  });
  try {
    const [fields, files] = await form.parse(req);
    const body: MultipartBody = { fields: new Map(), files: new Map() };
    for (const [name, values] of Object.entries(fields)) {
      if (values && values.length > 0) body.fields.set(name, values[0]!);
    }
    for (const [name, list] of Object.entries(files)) {
      const file = list?.[0];
      if (!file) continue;
      const parts = chunks.get(file as unknown as VolatileFile) ?? [];
      body.files.set(name, { bytes: Buffer.concat(parts), filename: file.originalFilename, mimetype: file.mimetype });
    }
    return body;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === formidableErrors.biggerThanMaxFileSize || code === formidableErrors.biggerThanTotalMaxFileSize) {
      throw tooLarge(limit, err);
    }
    throw new FaceError(ErrorCode.IllegalArgument, 'malformed multipart body', { args: ['body'] }, { cause: err });
  }
}

/**
 * Form fields of a multipart/form-data or application/x-www-form-urlencoded
 * body (files of a multipart body are ignored). An empty body has no fields.
 */
export async function readFormFields(req: IncomingMessage, limit: number): Promise<Map<string, string>> {
  const contentType = req.headers['content-type'] ?? '';
  if (/^multipart\/form-data/i.test(contentType)) return (await readMultipart(req, limit)).fields;
  const raw = await readRawBody(req, limit);
  if (raw.length === 0) return new Map();
  if (!/^application\/x-www-form-urlencoded/i.test(contentType)) {
    throw new FaceError(ErrorCode.IllegalArgument, 'expected a form body', { args: ['Content-Type'] });
  }
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(raw.toString('utf8'))) if (!fields.has(name)) fields.set(name, value);
  return fields;
}
