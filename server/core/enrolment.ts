// Turning an uploaded photo into an enrolled face (FacePass 新增Face):
// decode -> detect -> largest face only -> admission -> feature -> store.
// The image is stored whenever it decodes, also when enrolment fails, so the
// caller always gets an image_id back (spec cases A, B, C).
import type { AdmissionPolicy } from '../config.js';
import type { Cancellation, DecodeLimits, FaceEngine, ImageFormat } from '../../models/engine.js';
import type { FaceRecord, FaceStore, ImageRecord, Rect } from '../../storage/store.js';
import type { FaceToken, ImageId, LibraryId } from './ids.js';
import { ErrorCode, FaceError } from './errors.js';
import { failedAdmissionChecks } from './admission.js';
import { boxToRect } from './geometry.js';
import { newFaceToken, newImageId } from './tokens.js';

export interface EnrolledFace {
  faceToken: FaceToken;
  imageId: ImageId;
  rect: Rect;
}

export interface EnrolmentOptions {
  library: LibraryId;
  limits: DecodeLimits;
  admission: AdmissionPolicy;
  /** Abandons the engine work (client gone, deadline): FaceError ABORTED. */
  signal?: Cancellation;
}

const MIME: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', bmp: 'image/bmp' };

export class Enrolment {
  constructor(
    private readonly engine: FaceEngine,
    private readonly store: FaceStore,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Enrols the largest face of the photo. Failures after decoding are
   * FaceErrors whose details carry `imageId` (and `rect` once a face was
   * found): FACE_NOT_FOUND, BAD_QUALITY (details.reason lists failed checks).
   */
  async enrol(bytes: Uint8Array, options: EnrolmentOptions): Promise<EnrolledFace> {
    // One engine call for the whole photo (a worker thread with a pooled
    // engine). The feature is computed also for a face that fails admission:
    // cheaper than a second trip to the engine for the ones that pass.
    const analysis = await this.engine.analyze(bytes, { limits: options.limits, maxFaces: 1, quality: true, feature: true, signal: options.signal });
    const createdAt = this.now();
    const imageRecord: ImageRecord = {
      imageId: newImageId(),
      mime: MIME[analysis.format],
      bytes,
      width: analysis.width,
      height: analysis.height,
      createdAt,
    };
    const imageId = imageRecord.imageId;

    // Spec: only the largest face is considered; if it fails, the second
    // largest is not tried. analyze() returns the largest first.
    const [face] = analysis.faces;
    if (!face) {
      await this.store.addImage(imageRecord);
      throw new FaceError(ErrorCode.FaceNotFound, 'no face detected', { imageId });
    }
    const rect = boxToRect(face.box, analysis.width, analysis.height);
    const quality = face.quality!;
    const failed = failedAdmissionChecks(face.box, quality, options.admission);
    if (failed.length > 0) {
      await this.store.addImage(imageRecord);
      throw new FaceError(ErrorCode.BadQuality, `face failed quality checks: ${failed.join(',')}`, {
        imageId,
        rect,
        reason: failed.join(','),
        quality,
      });
    }

    const feature = face.feature!;
    const faceRecord: FaceRecord = {
      faceToken: newFaceToken(),
      library: options.library,
      imageId,
      rect,
      quality,
      createdAt,
      modelVersion: this.engine.searchModel,
      feature,
      deletedAt: null,
    };
    await this.store.addImage(imageRecord, faceRecord);
    return { faceToken: faceRecord.faceToken, imageId, rect };
  }
}
