// The faces of one image argument (BASE64 photo or FACE_TOKEN), measured
// as far as a call needs, with quality and liveness control applied.
import type { DecodeLimits } from '../../models/engine.js';
import type { AnalyzedFace, FaceAnalysis } from '../core/face-analysis.js';
import type { LibraryId } from '../core/ids.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import type { Controls, ImageInput } from './args.js';
import { assertControls, controlFailure, needsLiveness } from './controls.js';
import { needsAttributes, type FaceField } from './format.js';

/** Baidu images: PNG, JPG, BMP; at most 2 MB encoded (checked on the base64), 4096*4096 pixels. */
export const BAIDU_IMAGE_LIMITS: DecodeLimits = {
  maxBytes: 2 * 1024 * 1024,
  maxPixels: 4096 * 4096,
  minSide: 1,
  formats: ['jpeg', 'png', 'bmp'],
};

export interface FaceNeeds {
  maxFaces: number;
  fields: ReadonlySet<FaceField>;
  controls: Controls;
  /** Measure liveness whatever the controls say (liveness endpoints). */
  liveness?: boolean;
}

/**
 * Every face of the image (up to maxFaces), fully measured. Faces failing
 * the controls are left out, as detect and midentify do ("不符合要求的人脸会被过滤").
 */
export async function measuredFaces(analysis: FaceAnalysis, library: LibraryId, input: ImageInput, needs: FaceNeeds): Promise<AnalyzedFace[]> {
  const options = {
    library,
    limits: BAIDU_IMAGE_LIMITS,
    attributes: needsAttributes(needs.fields),
    liveness: needs.liveness === true || needsLiveness(needs.controls),
  };
  const faces =
    input.kind === 'photo'
      ? (await analysis.analyzePhoto(input.bytes, { ...options, maxFaces: needs.maxFaces })).faces
      : (await analysis.analyzeStored(input.token, options)).faces;
  return faces.filter((face) => controlFailure(face, needs.controls) === null);
}

/**
 * The one face an operation works on (the largest), with the controls
 * enforced as errors: FACE_NOT_FOUND, BAD_QUALITY, LIVENESS_FAILED. A
 * FACE_TOKEN is measured again only when a control needs it.
 */
export async function singleFace(analysis: FaceAnalysis, library: LibraryId, input: ImageInput, controls: Controls): Promise<AnalyzedFace> {
  const liveness = needsLiveness(controls);
  let face: AnalyzedFace | undefined;
  if (input.kind === 'photo') {
    [face] = (await analysis.analyzePhoto(input.bytes, { library, limits: BAIDU_IMAGE_LIMITS, maxFaces: 1, liveness })).faces;
  } else if (liveness) {
    [face] = (await analysis.analyzeStored(input.token, { library, limits: BAIDU_IMAGE_LIMITS, liveness })).faces;
  } else {
    const stored = await analysis.storedFace(library, input.token);
    const { left, top, right, bottom } = stored.rect;
    face = {
      faceToken: stored.faceToken,
      box: { left, top, width: right - left, height: bottom - top },
      score: 1,
      landmarks: [],
      quality: stored.quality,
      feature: stored.feature,
    };
  }
  if (!face) throw new FaceError(ErrorCode.FaceNotFound, 'no face detected');
  assertControls(face, controls);
  return face;
}
