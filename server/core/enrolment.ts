// Turning an uploaded photo into an enrolled face (FacePass 新增Face):
// decode -> detect -> largest face only -> admission -> feature -> store.
// The image is stored whenever it decodes, also when enrolment fails, so the
// caller always gets an image_id back (spec cases A, B, C).
import type { AdmissionPolicy } from '../config.js';
import type { Cancellation, DecodeLimits, FaceEngine, ImageFormat } from '../../models/engine.js';
import type { FaceRecord, FaceStore, ImageRecord, Rect } from '../../storage/store.js';
import type { FaceToken, ImageId, LibraryId } from './ids.js';
import { ErrorCode, FaceError, isFaceError } from './errors.js';
import { sniffFormat } from '../../models/decode.js';
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
    const createdAt = this.now();
    // One engine call for the whole photo (a worker thread with a pooled
    // engine). The feature is computed also for a face that fails admission:
    // cheaper than a second trip to the engine for the ones that pass.
    let analysis;
    try {
      analysis = await this.engine.analyze(bytes, { limits: options.limits, maxFaces: 1, quality: true, feature: true, signal: options.signal });
    } catch (err) {
      await this.keepUndecoded(bytes, err, options.limits, createdAt);
      throw err;
    }
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

  /**
   * Spec: "无论成败，均会返回image_id". An upload the decoder refused
   * (unsupported or broken format, too many or too few pixels) is kept as it
   * came, so it can be fetched for analysis, and its id goes on the error.
   * Not kept: an empty upload (nothing to keep) and one over the image byte
   * limit (keeping it is what that limit forbids).
   */
  private async keepUndecoded(bytes: Uint8Array, err: unknown, limits: DecodeLimits, createdAt: number): Promise<void> {
    if (!isFaceError(err) || !KEPT_WHEN_UNDECODED.has(err.code)) return;
    if (bytes.length === 0 || bytes.length > limits.maxBytes) return;
    const format = sniffFormat(bytes);
    const imageRecord: ImageRecord = {
      imageId: newImageId(),
      mime: (format && SNIFFED_MIME[format]) || 'application/octet-stream',
      bytes,
      width: typeof err.details.width === 'number' ? err.details.width : 0,
      height: typeof err.details.height === 'number' ? err.details.height : 0,
      createdAt,
    };
    await this.store.addImage(imageRecord);
    err.details.imageId = imageRecord.imageId;
  }
}

/** Decoder refusals whose upload is still kept (see keepUndecoded). */
const KEPT_WHEN_UNDECODED: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.UnsupportedImageFormat,
  ErrorCode.ImageResolutionTooLarge,
  ErrorCode.ImageResolutionTooSmall,
]);

/** MIME of a kept upload the decoder refused, from its magic bytes; anything else is application/octet-stream. */
const SNIFFED_MIME: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  bmp: 'image/bmp',
  gif: 'image/gif',
  webp: 'image/webp',
  tiff: 'image/tiff',
  // Never svg: served back from the API's origin, it could run script in a browser.
};
