// FacePass recognition (spec 人脸识别, 人脸比对, 阈值配置): parse the form,
// call core/recognition.ts or core/thresholds.ts, format the spec's fields.
//
// recognize's `face_data` is our own documented JSON (README "Recognize"):
//   {"faces": [{"track_id": 7}, ...], "top_n": 1, "enable_liveness": false}
// every key optional; without "faces" every image_<track_id> part is a track.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import { DEFAULT_LIBRARY } from '../core/ids.js';
import { ErrorCode, FaceError, illegalArgument, missingArgument } from '../core/errors.js';
import type { AnalyzedFace, Recognition, RecognizedFace } from '../core/recognition.js';
import { MAX_QUERY_FACES, MAX_TOP_N } from '../core/search/index.js';
import { isThresholdValue, type ThresholdName, type Thresholds, type ThresholdValues } from '../core/thresholds.js';
import type { Authenticator } from '../http/auth.js';
import { readFormFields, readMultipart, type MultipartBody } from '../http/body.js';
import { groupName, requiredArgs } from './args.js';
import { facepassRoute, type FacePassResult } from './envelope.js';

export interface RecognitionRouteDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  recognition: Recognition;
  thresholds: Thresholds;
}

const library = DEFAULT_LIBRARY;
/** Track images per recognize request: one frame's faces. */
export const MAX_TRACKS = MAX_QUERY_FACES;
const TRACK_ID = /^[A-Za-z0-9_-]{1,32}$/;
const IMAGE_PART = /^image_(.+)$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The spec's field name of each threshold. */
const FIELD: Record<ThresholdName, string> = {
  recognize: 'recognize_threshold',
  compare: 'compare_threshold',
  liveness: 'liveness_threshold',
};

function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
}

/** A file part; a part sent as a text field, or an empty file, is IMAGE_VALIDATE_FAILED. */
function imagePart(form: MultipartBody, name: string): Uint8Array {
  const file = form.files.get(name);
  if (!file || file.bytes.length === 0) {
    throw new FaceError(ErrorCode.ImageValidateFailed, `${name} is not an image file`, { args: [name] });
  }
  return file.bytes;
}

const detection = (face: AnalyzedFace) => ({
  rect: face.rect,
  pose: { yaw: face.quality.yaw, pitch: face.quality.pitch, roll: face.quality.roll },
  blur: face.quality.blur,
});

function recognizedJson(face: RecognizedFace) {
  return {
    ...detection(face),
    recognized: face.recognized,
    ...(face.liveness !== undefined ? { liveness_score: face.liveness, liveness_passed: face.live } : {}),
    candidates: face.matches.map((match) => ({
      face_token: match.faceToken,
      score: match.score,
      ...(match.userId !== undefined ? { user_id: match.userId } : {}),
      ...(match.userInfo !== undefined ? { user_info: match.userInfo } : {}),
    })),
  };
}

interface FaceData {
  trackIds: string[] | undefined;
  topN: number;
  liveness: boolean;
}

function parseFaceData(raw: string): FaceData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw illegalArgument('face_data');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw illegalArgument('face_data');
  const data = parsed as Record<string, unknown>;
  const topN = data.top_n ?? 1;
  if (!Number.isInteger(topN) || (topN as number) < 1 || (topN as number) > MAX_TOP_N) throw illegalArgument('face_data.top_n');
  const liveness = data.enable_liveness === undefined ? false : parseBoolean(data.enable_liveness);
  if (liveness === undefined) throw illegalArgument('face_data.enable_liveness');
  let trackIds: string[] | undefined;
  if (data.faces !== undefined) {
    if (!Array.isArray(data.faces) || data.faces.length === 0 || data.faces.length > MAX_TRACKS) throw illegalArgument('face_data.faces');
    trackIds = data.faces.map((face: unknown) => {
      const id = face && typeof face === 'object' ? (face as Record<string, unknown>).track_id : undefined;
      const text = typeof id === 'number' && Number.isInteger(id) && id >= 0 ? String(id) : id;
      if (typeof text !== 'string' || !TRACK_ID.test(text)) throw illegalArgument('face_data.faces');
      return text;
    });
    if (new Set(trackIds).size !== trackIds.length) throw illegalArgument('face_data.faces');
  }
  return { trackIds, topN: topN as number, liveness };
}

const thresholdsJson = (values: ThresholdValues) => ({
  recognize_threshold: values.recognize,
  compare_threshold: values.compare,
  liveness_threshold: values.liveness,
});

export function recognitionRouter(deps: RecognitionRouteDeps): Router {
  const router = new Router();
  const device = (handler: (ctx: Context) => Promise<FacePassResult>) => facepassRoute(deps.auth, 'device', deps.logger, handler);
  const admin = (handler: (ctx: Context) => Promise<FacePassResult>) => facepassRoute(deps.auth, 'admin', deps.logger, handler);
  const limit = deps.config.maxRequestBytes;

  router.post('/api/service/compare/v1', device(async (ctx) => {
    const form = await readMultipart(ctx.req, limit, 2);
    const missing = ['image_1', 'image_2', 'enable_liveness'].filter((name) => !form.files.has(name) && !form.fields.has(name));
    if (missing.length > 0) throw missingArgument(...missing);
    const liveness = parseBoolean(form.fields.get('enable_liveness'));
    if (liveness === undefined) throw illegalArgument('enable_liveness');
    const result = await deps.recognition.compare(imagePart(form, 'image_1'), imagePart(form, 'image_2'), { liveness });
    const [a, b] = result.faces;
    return {
      score: result.score,
      compare_threshold: result.thresholds.compare,
      detection_result_1: detection(a),
      detection_result_2: detection(b),
      liveness_threshold: result.thresholds.liveness,
      // The spec's example spelling (its field table writes liveness_score1); 0 when not asked for, as in the example.
      liveness_score_1: a.liveness ?? 0,
      liveness_score_2: b.liveness ?? 0,
    };
  }));

  const recognize = device(async (ctx) => {
    const form = await readMultipart(ctx.req, limit, MAX_TRACKS);
    const missing = ['group_name', 'face_data'].filter((name) => !form.fields.has(name) || form.fields.get(name) === '');
    const images = [...form.files.keys(), ...form.fields.keys()].filter((name) => IMAGE_PART.test(name));
    if (images.length === 0) missing.push('image_${track_id}');
    if (missing.length > 0) throw missingArgument(...missing);
    const { group_name } = requiredArgs(Object.fromEntries(form.fields), { group_name: groupName });
    const faceData = parseFaceData(form.fields.get('face_data')!);
    const partIds = images.map((name) => IMAGE_PART.exec(name)![1]!);
    const bad = partIds.filter((id) => !TRACK_ID.test(id));
    if (bad.length > 0) throw illegalArgument(...bad.map((id) => `image_${id}`));
    const trackIds = faceData.trackIds ?? partIds.sort();
    const absent = trackIds.filter((id) => !partIds.includes(id));
    if (absent.length > 0) throw missingArgument(...absent.map((id) => `image_${id}`));
    const unlisted = partIds.filter((id) => !trackIds.includes(id));
    if (unlisted.length > 0) throw illegalArgument(...unlisted.map((id) => `image_${id}`));
    const result = await deps.recognition.recognize({
      library,
      group: group_name,
      images: trackIds.map((trackId) => ({ trackId, bytes: imagePart(form, `image_${trackId}`) })),
      topN: faceData.topN,
      liveness: faceData.liveness,
    });
    return {
      group_name,
      recognize_threshold: result.thresholds.recognize,
      liveness_threshold: result.thresholds.liveness,
      results: result.tracks.map((track) => ({ track_id: track.trackId, faces: track.faces.map(recognizedJson) })),
    };
  });
  // The spec writes the path with a trailing slash; clients use both.
  router.post('/api/service/recognize/v1', recognize);
  router.post('/api/service/recognize/v1/', recognize);

  router.post('/api/service/config/v1', admin(async (ctx) => {
    const fields = await readFormFields(ctx.req, limit);
    const changes: Partial<Record<ThresholdName, number>> = {};
    const invalid: string[] = [];
    for (const [name, field] of Object.entries(FIELD) as Array<[ThresholdName, string]>) {
      const raw = fields.get(field)?.trim();
      // Spec: an empty or absent value leaves the threshold alone.
      if (raw === undefined || raw === '') continue;
      const value = NUMBER.test(raw) ? Number(raw) : Number.NaN;
      if (!isThresholdValue(value)) invalid.push(field);
      else changes[name] = value;
    }
    if (invalid.length > 0) throw illegalArgument(...invalid);
    return thresholdsJson(await deps.thresholds.update(changes));
  }));

  return router;
}
