// Model upgrade (spec 底库同步: 模型版本不一致 -> the terminal drops every
// feature and takes the new model's): when the server starts with a feature
// model other than the one that made the stored features, it re-extracts
// every live face from its stored original photo, before it serves anyone,
// so no response ever mixes two models. Terminals then see a new
// search_model and get a RESET with the new features.
//
// The stored rect says which face of the photo was enrolled; the detection
// overlapping it most is embedded again. A face whose photo no longer yields
// that face (only if the detector changed too) cannot be represented in the
// new model: it is deleted (its record and photo stay, as with any delete)
// and named in the log, so an administrator can enrol it again. Any other
// failure stops the start: deleting faces for a passing fault is worse.
import type { Logger } from 'pino';
import type { DecodeLimits, FaceEngine } from '../../models/engine.js';
import type { FaceRecord, FaceStore, Rect } from '../../storage/store.js';
import type { FaceToken } from './ids.js';
import { boxToRect, rectOverlap } from './geometry.js';

export interface MigrationResult {
  /** Faces given a feature of the current model. */
  migrated: number;
  /** Faces deleted because their photo no longer shows them. */
  deleted: FaceToken[];
  elapsedMs: number;
}

/** Smallest overlap (intersection over union) with the stored rect for a detection to count as the same face. */
const MIN_OVERLAP = 0.5;
const PAGE = 64;

export class FeatureMigration {
  constructor(
    private readonly engine: FaceEngine,
    private readonly store: FaceStore,
    private readonly logger: Logger,
    /** Limits for decoding stored photos: they passed enrolment, so enrolment's limits. */
    private readonly limits: DecodeLimits,
  ) {}

  /** Re-extracts every live face made by another model. Idempotent; a no-op when all are current. */
  async run(): Promise<MigrationResult> {
    const started = performance.now();
    const model = this.engine.searchModel;
    const result: MigrationResult = { migrated: 0, deleted: [], elapsedMs: 0 };
    // The store counts live faces per feature model as it writes them: when
    // every one is of this model, the start reads no face record at all.
    const models = await this.store.featureModels();
    if (![...models].some(([other, count]) => other !== model && count > 0)) {
      result.elapsedMs = performance.now() - started;
      return result;
    }
    let after: FaceToken | undefined;
    for (;;) {
      const page = await this.store.facesOfOtherModels(model, { ...(after ? { after } : {}), limit: PAGE });
      if (page.length === 0) break;
      if (!after) this.logger.warn({ model }, 'stored features come from another model: re-extracting them from their photos');
      for (const face of page) {
        const feature = await this.extract(face);
        if (feature && (await this.store.replaceFeature(face.faceToken as FaceToken, feature, model))) {
          result.migrated++;
        } else if (!feature) {
          await this.store.deleteFace(face.faceToken as FaceToken);
          result.deleted.push(face.faceToken as FaceToken);
        }
      }
      after = page[page.length - 1]!.faceToken as FaceToken;
      this.logger.info({ migrated: result.migrated, deleted: result.deleted.length }, 'model upgrade in progress');
    }
    result.elapsedMs = performance.now() - started;
    if (result.migrated > 0 || result.deleted.length > 0) {
      this.logger.warn({ ...result, model }, 'model upgrade done');
    }
    return result;
  }

  /** The new model's feature of the stored face, or null when its photo no longer shows it. */
  private async extract(face: FaceRecord): Promise<Float32Array | null> {
    const photo = await this.store.getImage(face.imageId);
    if (!photo) return null;
    // An error here (engine failure, unreadable photo) stops the server's
    // start rather than deleting faces for what may be a passing fault.
    const image = await this.engine.analyze(photo.bytes, { limits: this.limits, feature: true });
    let best = { score: 0, index: -1 };
    image.faces.forEach((detection, index) => {
      const score = rectOverlap(boxToRect(detection.box, image.width, image.height), face.rect);
      if (score > best.score) best = { score, index };
    });
    if (best.score < MIN_OVERLAP) return null;
    return image.faces[best.index]!.feature!;
  }
}
