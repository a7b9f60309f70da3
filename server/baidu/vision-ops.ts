// Detection and liveness of the Baidu dialect (人脸检测, 活体检测, cloud
// faceverify): parse, call the core, format.
import type { FaceAnalysis } from '../core/face-analysis.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import { controlArgs, illegal, imageArg, intArg, optionalString, type Args } from './args.js';
import { isObject, type BaiduCall, type BaiduHandler } from './call.js';
import { LIVENESS } from './controls.js';
import { faceJson, parseFaceFields, type FaceField } from './format.js';
import { measuredFaces } from './image-faces.js';

/** detect: max_face_num "最大值10". */
const MAX_DETECT_FACES = 10;

export interface VisionOpsDeps {
  analysis: FaceAnalysis;
}

function faceFieldsArg(args: Args): Set<FaceField> {
  const fields = parseFaceFields(optionalString(args, 'face_field'));
  if (!fields) throw illegal('face_field');
  return fields;
}

/** The array body of liveness / faceverify / match: the image objects, `allowed` counts only. */
export function imageObjects(call: BaiduCall, allowed: (n: number) => boolean): Args[] {
  const items = Array.isArray(call.body) ? call.body : null;
  if (!items || !items.every(isObject)) throw new FaceError(ErrorCode.IllegalJsonBody, 'the body must be a JSON array of image objects');
  // 222208 "the number of image is incorrect".
  if (!allowed(items.length)) throw illegal('image_count', `${items.length} images`);
  return items;
}

export function visionOps(deps: VisionOpsDeps) {
  const detect: BaiduHandler = async (call) => {
    const { args } = call;
    const image = imageArg(args);
    const fields = faceFieldsArg(args);
    const maxFaces = intArg(args, 'max_face_num', 1, 1, MAX_DETECT_FACES);
    const controls = controlArgs(args);
    const faces = await measuredFaces(deps.analysis, call.library, image, { maxFaces, fields, controls });
    if (faces.length === 0) throw new FaceError(ErrorCode.FaceNotFound, 'no face detected');
    return { face_num: faces.length, face_list: faces.map((face) => faceJson(face, fields)) };
  };

  /**
   * Liveness over several photos of one person: each photo's largest face
   * is scored, the highest score is the overall one (spec: 后端会选择每组
   * 照片中的最高分数作为整体分数), with the spec's thresholds alongside.
   */
  const livenessOf = (allowed: (n: number) => boolean): BaiduHandler => async (call) => {
    const items = imageObjects(call, allowed);
    const list: Record<string, unknown>[] = [];
    let best = 0;
    for (const item of items) {
      const image = imageArg(item);
      const fields = faceFieldsArg(item);
      const [face] = await measuredFaces(deps.analysis, call.library, image, {
        maxFaces: 1,
        fields,
        controls: { quality: 'NONE', liveness: 'NONE' },
        liveness: true,
      });
      if (!face) throw new FaceError(ErrorCode.FaceNotFound, 'no face detected');
      best = Math.max(best, face.liveness ?? 0);
      list.push(faceJson(face, fields));
    }
    return {
      face_liveness: Number(best.toFixed(8)),
      thresholds: { 'frr_1e-4': LIVENESS.LOW, 'frr_1e-3': LIVENESS.NORMAL, 'frr_1e-2': LIVENESS.HIGH },
      face_list: list,
    };
  };

  return {
    detect,
    // Private liveness: "支持送入1/3/8张图片".
    liveness: livenessOf((n) => n === 1 || n === 3 || n === 8),
    // Cloud faceverify: the same, from one up to eight images.
    faceverify: livenessOf((n) => n >= 1 && n <= 8),
  } satisfies Record<string, (call: BaiduCall) => Promise<unknown>>;
}
