// Photos (or stored faces) in, measured faces out: detection, quality,
// feature and, when asked, attributes and liveness. Every face found is
// stored with its photo, so its face token can be used later (match, search,
// enrolment by FACE_TOKEN), and tokens are content-derived: the same photo
// in the same library gives the same face tokens every time (Baidu: 同一张
// 图片多次检测得到的FACE_TOKEN是同一个), without a second copy in the store.
import { createHash } from 'node:crypto';
import type {
  AnalyzedDetection, AnalyzeRequest, Box, DecodeLimits, DetectedFace, FaceAttributes, FaceEngine, FaceQuality, ImageFormat, Point,
} from '../../models/engine.js';

type ImageSize = { width: number; height: number };
import type { FaceRecord, FaceStore, Rect } from '../../storage/store.js';
import type { FaceToken, ImageId, LibraryId } from './ids.js';
import { ErrorCode, FaceError } from './errors.js';
import { boxToRect, rectOverlap } from './geometry.js';

export interface AnalysisOptions {
  library: LibraryId;
  limits: DecodeLimits;
  /** At most this many faces, largest first (>= 1). */
  maxFaces: number;
  attributes?: boolean;
  liveness?: boolean;
}

export interface AnalyzedFace {
  faceToken: FaceToken;
  box: Box;
  /** Detector confidence, [0,1]. */
  score: number;
  /** 68 points (iBUG 300-W order), image pixels. */
  landmarks: Point[];
  quality: FaceQuality;
  feature: Float32Array;
  attributes?: FaceAttributes;
  /** Probability of a live person, [0,1]. */
  liveness?: number;
}

export interface AnalyzedPhoto {
  width: number;
  height: number;
  faces: AnalyzedFace[];
}

const MIME: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', bmp: 'image/bmp' };
/** Smallest overlap with a stored face's rect for a detection to be that face. */
const SAME_FACE_OVERLAP = 0.5;
/** Token candidates tried per face when earlier ones are taken by deleted or different faces. */
const TOKEN_ATTEMPTS = 8;

/** 18 bytes of a hash in base64url: 24 characters, the face token alphabet. */
function contentId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest().subarray(0, 18).toString('base64url');
}

export class FaceAnalysis {
  constructor(
    private readonly engine: FaceEngine,
    private readonly store: FaceStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every face of the photo (largest first, up to maxFaces), stored. No face is not an error: `faces` is empty. */
  async analyzePhoto(bytes: Uint8Array, options: AnalysisOptions): Promise<AnalyzedPhoto> {
    const analysis = await this.engine.analyze(bytes, this.request(options, Math.max(1, options.maxFaces)));
    const faces = analysis.faces.map((f) => this.toFace(f));
    if (faces.length > 0) await this.persist(bytes, analysis, faces, options.library);
    return { width: analysis.width, height: analysis.height, faces };
  }

  /**
   * A stored face measured again from its photo (FACE_TOKEN inputs that ask
   * for more than the stored feature). FACE_TOKEN_NOT_FOUND if it is not a
   * live face of the library; FACE_NOT_FOUND if its photo no longer shows it.
   */
  async analyzeStored(token: FaceToken, options: Omit<AnalysisOptions, 'maxFaces'>): Promise<AnalyzedPhoto> {
    const face = await this.storedFace(options.library, token);
    const photo = await this.store.getImage(face.imageId);
    if (!photo) throw new FaceError(ErrorCode.Internal, `image ${face.imageId} of face ${token} is missing`);
    const limits = { ...options.limits, maxBytes: Math.max(options.limits.maxBytes, photo.bytes.length) };
    const analysis = await this.engine.analyze(photo.bytes, { ...this.request({ ...options, limits }), feature: false });
    const detection = this.sameFace(analysis, analysis.faces, face.rect);
    if (!detection) throw new FaceError(ErrorCode.FaceNotFound, `face ${token} is no longer found in its photo`);
    return { width: analysis.width, height: analysis.height, faces: [{ ...this.toFace(detection), faceToken: token, feature: face.feature }] };
  }

  /** The engine request: quality and feature always, attributes and liveness when asked. */
  private request(options: Omit<AnalysisOptions, 'maxFaces'>, maxFaces?: number): AnalyzeRequest {
    return { limits: options.limits, maxFaces, quality: true, feature: true, attributes: options.attributes, liveness: options.liveness };
  }

  private toFace(d: AnalyzedDetection): AnalyzedFace {
    const face: AnalyzedFace = {
      faceToken: '' as FaceToken,
      box: d.box,
      score: d.score,
      landmarks: d.landmarks,
      quality: d.quality!,
      feature: d.feature ?? new Float32Array(0),
    };
    if (d.attributes) face.attributes = d.attributes;
    if (d.liveness !== undefined) face.liveness = d.liveness;
    return face;
  }

  /** A live face of the library (its feature included); FACE_TOKEN_NOT_FOUND otherwise. */
  async storedFace(library: LibraryId, token: FaceToken): Promise<FaceRecord> {
    const face = await this.store.getFace(token);
    if (!face || face.deletedAt !== null || face.library !== library || face.feature.length === 0) {
      throw new FaceError(ErrorCode.FaceTokenNotFound, `face_token ${token} does not exist`);
    }
    return face;
  }

  private sameFace<T extends DetectedFace>(image: ImageSize, detections: T[], rect: Rect): T | undefined {
    let best: { overlap: number; face?: T } = { overlap: 0 };
    for (const detection of detections) {
      const overlap = rectOverlap(boxToRect(detection.box, image.width, image.height), rect);
      if (overlap > best.overlap) best = { overlap, face: detection };
    }
    return best.overlap >= SAME_FACE_OVERLAP ? best.face : undefined;
  }

  /**
   * Gives each face its content-derived token, storing the photo and the
   * faces not stored yet. A candidate token taken by a deleted face, or by a
   * face elsewhere in the photo (another detector), moves on to the next one.
   */
  private async persist(bytes: Uint8Array, image: ImageSize & { format: ImageFormat }, faces: AnalyzedFace[], library: LibraryId): Promise<void> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    const imageId = contentId('image', library, digest) as ImageId;
    const createdAt = this.now();
    const fresh: FaceRecord[] = [];
    for (const [rank, face] of faces.entries()) {
      const rect = boxToRect(face.box, image.width, image.height);
      for (let attempt = 0; ; attempt++) {
        if (attempt >= TOKEN_ATTEMPTS) throw new FaceError(ErrorCode.Internal, 'no free face token for this photo');
        const token = contentId('face', library, digest, String(rank), String(attempt)) as FaceToken;
        const existing = await this.store.getFace(token);
        if (!existing) {
          face.faceToken = token;
          fresh.push({
            faceToken: token,
            library,
            imageId,
            rect,
            quality: face.quality,
            createdAt,
            modelVersion: this.engine.searchModel,
            feature: face.feature,
            deletedAt: null,
          });
          break;
        }
        if (existing.deletedAt === null && rectOverlap(existing.rect, rect) >= SAME_FACE_OVERLAP) {
          face.faceToken = token;
          break;
        }
      }
    }
    if (fresh.length === 0) return;
    const record = { imageId, mime: MIME[image.format], bytes, width: image.width, height: image.height, createdAt };
    // One transaction per face (addImage takes at most one); the image is
    // rewritten with the same content each time, which is harmless.
    for (const face of fresh) {
      try {
        await this.store.addImage(record, face);
      } catch (err) {
        // The same photo analysed concurrently stored this face first: same content, same token.
        const raced = await this.store.getFace(face.faceToken);
        if (!raced || raced.deletedAt !== null) throw err;
      }
    }
  }
}
