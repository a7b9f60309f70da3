// Compare (1:1) and recognize (1:N) from photos: the engine finds and
// describes the faces, search/ finds who they are, thresholds.ts says what
// passes. No HTTP here; dialects parse and format.
//
// Scores are on the 0-100 scale of search/score.ts; liveness is the
// engine's probability times 100, so it reads on the same scale as its
// threshold.
import type { DecodeLimits, FaceEngine, FaceQuality } from '../../models/engine.js';
import type { Rect } from '../../storage/store.js';
import { ErrorCode, FaceError } from './errors.js';
import { boxToRect } from './geometry.js';
import type { GroupName, LibraryId } from './ids.js';
import { MAX_QUERY_FACES, type SearchMatch, type SearchService } from './search/search-service.js';
import { scoreOfCosine } from './search/score.js';
import type { ThresholdValues, Thresholds } from './thresholds.js';

/** One face found in a photo, described and embedded. */
export interface AnalyzedFace {
  rect: Rect;
  quality: FaceQuality;
  feature: Float32Array;
  /** 0-100; present when liveness was asked for. */
  liveness?: number;
}

export interface CompareResult {
  score: number;
  faces: [AnalyzedFace, AnalyzedFace];
  thresholds: ThresholdValues;
}

export interface RecognizeImage {
  trackId: string;
  bytes: Uint8Array;
}

export interface RecognizeRequest {
  library: LibraryId;
  group: GroupName;
  images: readonly RecognizeImage[];
  /** Matches per face, 1..50. */
  topN: number;
  liveness: boolean;
}

export interface RecognizedFace extends AnalyzedFace {
  matches: SearchMatch[];
  /** The best match reaches the recognize threshold. */
  recognized: boolean;
  /** Liveness reaches its threshold; undefined when liveness was not asked for. */
  live?: boolean;
}

export interface RecognizeResult {
  tracks: Array<{ trackId: string; faces: RecognizedFace[] }>;
  thresholds: ThresholdValues;
}

export interface RecognitionLimits {
  /** Decode limits for compare and recognize images (spec 人脸比对: jpg/png/bmp, >= 50x50, <= 2560*2560 by area). */
  image: DecodeLimits;
  /** Faces looked at per recognize image, largest first. */
  maxFacesPerImage: number;
}

export class Recognition {
  constructor(
    private readonly engine: FaceEngine,
    private readonly search: SearchService,
    private readonly thresholds: Thresholds,
    private readonly limits: RecognitionLimits,
  ) {}

  /**
   * Compares the largest face of each photo. No quality gate (spec: the
   * caller judges pose and blur from the result). FACE_NOT_FOUND names the
   * photo (details.image 1 or 2); with liveness, LIVENESS_FAILED when either
   * face scores below the liveness threshold (details carry both scores).
   */
  async compare(first: Uint8Array, second: Uint8Array, options: { liveness: boolean }): Promise<CompareResult> {
    const thresholds = this.thresholds.values;
    const faces: AnalyzedFace[] = [];
    for (const [i, bytes] of [first, second].entries()) {
      const [face] = await this.analyze(bytes, 1, options.liveness);
      if (!face) throw new FaceError(ErrorCode.FaceNotFound, `no face in image ${i + 1}`, { image: i + 1 });
      faces.push(face);
    }
    const [a, b] = faces as [AnalyzedFace, AnalyzedFace];
    if (options.liveness && (a.liveness! < thresholds.liveness || b.liveness! < thresholds.liveness)) {
      throw new FaceError(ErrorCode.LivenessFailed, 'liveness below the threshold', {
        liveness: [a.liveness, b.liveness],
        livenessThreshold: thresholds.liveness,
      });
    }
    let cosine = 0;
    for (let i = 0; i < a.feature.length; i++) cosine += a.feature[i]! * b.feature[i]!;
    return { score: scoreOfCosine(cosine), faces: [a, b], thresholds };
  }

  /** Every face of every track image, searched in the group. An image without a face gives an empty `faces`. */
  async recognize(request: RecognizeRequest): Promise<RecognizeResult> {
    // Before any engine work: an unknown group fails fast.
    this.search.assertGroups(request.library, [request.group]);
    const thresholds = this.thresholds.values;
    const tracks: RecognizeResult['tracks'] = [];
    const all: RecognizedFace[] = [];
    for (const image of request.images) {
      const faces = (await this.analyze(image.bytes, this.limits.maxFacesPerImage, request.liveness)).map(
        (face): RecognizedFace => ({ ...face, matches: [], recognized: false }),
      );
      tracks.push({ trackId: image.trackId, faces });
      all.push(...faces);
    }
    for (let start = 0; start < all.length; start += MAX_QUERY_FACES) {
      const chunk = all.slice(start, start + MAX_QUERY_FACES);
      const found = await this.search.search({
        library: request.library,
        groups: [request.group],
        features: chunk.map((face) => face.feature),
        topN: request.topN,
      });
      chunk.forEach((face, i) => {
        face.matches = found[i]!;
        face.recognized = (face.matches[0]?.score ?? 0) >= thresholds.recognize;
        if (face.liveness !== undefined) face.live = face.liveness >= thresholds.liveness;
      });
    }
    return { tracks, thresholds };
  }

  /**
   * Up to `max` faces of the photo, largest first, each with quality, feature
   * and (if asked) liveness: one engine call, so with a pooled engine the
   * photo is one worker task and no decoded image crosses threads.
   */
  private async analyze(bytes: Uint8Array, max: number, liveness: boolean): Promise<AnalyzedFace[]> {
    if (bytes.length === 0) throw new FaceError(ErrorCode.ImageValidateFailed, 'empty image');
    // transfer: compare and recognize do not keep the photos (each request part is analysed once).
    const analysis = await this.engine.analyze(bytes, { limits: this.limits.image, maxFaces: max, quality: true, feature: true, liveness, transfer: true });
    return analysis.faces.map((face) => {
      const analyzed: AnalyzedFace = { rect: boxToRect(face.box, analysis.width, analysis.height), quality: face.quality!, feature: face.feature! };
      if (liveness) analyzed.liveness = face.liveness! * 100;
      return analyzed;
    });
  }
}
