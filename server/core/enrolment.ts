// Turning an uploaded photo into an enrolled face (FacePass 新增Face):
// decode -> detect -> largest face only -> admission -> feature -> store.
// The image is stored whenever it decodes, also when enrolment fails, so the
// caller always gets an image_id back (spec cases A, B, C).
import type { AdmissionPolicy } from '../config.js';
import type { DecodeLimits, FaceEngine, ImageFormat } from '../../models/engine.js';
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
    const image = await this.engine.decode(bytes, options.limits);
    const createdAt = this.now();
    const imageRecord: ImageRecord = {
      imageId: newImageId(),
      mime: MIME[image.format],
      bytes,
      width: image.width,
      height: image.height,
      createdAt,
    };
    const imageId = imageRecord.imageId;

    // Spec: only the largest face is considered; if it fails, the second
    // largest is not tried. detect() returns the largest first.
    const [face] = await this.engine.detect(image);
    if (!face) {
      await this.store.addImage(imageRecord);
      throw new FaceError(ErrorCode.FaceNotFound, 'no face detected', { imageId });
    }
    const rect = boxToRect(face.box, image.width, image.height);
    const quality = await this.engine.quality(image, face);
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

    const feature = await this.engine.embed(image, face);
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
