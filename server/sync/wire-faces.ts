// Bound faces as the sync protocol carries them: the binding's user data
// plus the face's feature, read from the store page by page.
import type { FaceRecord as WireFace } from '../../device-protocol/index.js';
import type { BindingRecord, FaceStore } from '../../storage/store.js';
import type { FaceToken, GroupId } from '../core/ids.js';
import { ErrorCode, FaceError } from '../core/errors.js';

/**
 * A face was deleted (its feature is gone) between reading a group's
 * bindings and reading its features, or the served model changed (a model
 * upgrade switched) while a stream of the old one was being read. The
 * bindings read is stale; reading them again gives a consistent view.
 */
export class FaceChangedWhileReading extends FaceError {
  constructor(readonly faceToken: string) {
    super(ErrorCode.Internal, `face ${faceToken} changed while streaming; retry the sync`);
  }
}

export class WireFaceReader {
  constructor(
    private readonly store: FaceStore,
    /** The model of the served features now (it changes once, at a model upgrade's switch). */
    private readonly servedModel: () => string,
    private readonly featureDim: number,
    /** Faces read from the store at a time: bounds the memory a stream or snapshot build holds. */
    private readonly pageSize = 500,
  ) {}

  /**
   * Features of `model` and user data of bound faces, in the order given,
   * for a stream whose header announced `model`. A live face with no served
   * feature of that model (enrolled by the new model during a model
   * upgrade, or whose photo failed the last upgrade) is sent with an
   * all-zero feature: it matches nobody, and the group's count and digest
   * stay exact. Throws FaceChangedWhileReading.
   */
  async read(bindings: readonly BindingRecord[], model: string): Promise<WireFace[]> {
    const faces = await this.store.getFaces(bindings.map((binding) => binding.faceToken as FaceToken));
    // Switches are one commit: if the model is still `model` now, the read above saw it too.
    if (this.servedModel() !== model) throw new FaceChangedWhileReading(bindings[0]?.faceToken ?? '');
    return bindings.map((binding, i) => {
      const face = faces[i];
      if (!face || face.deletedAt !== null) throw new FaceChangedWhileReading(binding.faceToken);
      const served = face.feature.length === this.featureDim && face.modelVersion === model;
      return {
        faceToken: binding.faceToken,
        ...(binding.userId !== undefined ? { userId: binding.userId } : {}),
        ...(binding.userInfo !== undefined ? { userInfo: binding.userInfo } : {}),
        feature: served ? face.feature : new Float32Array(this.featureDim),
      };
    });
  }

  /** read(), one page at a time, so memory holds one page of features. */
  async *pages(bindings: readonly BindingRecord[], model: string): AsyncGenerator<WireFace[]> {
    for (let start = 0; start < bindings.length; start += this.pageSize) {
      yield await this.read(bindings.slice(start, start + this.pageSize), model);
    }
  }

  /**
   * Pages of the faces a DELTA upserts. A face unbound after the delta's
   * version has no binding any more: it is still part of that version (sent
   * without user data); the next sync removes it.
   */
  async *upsertPages(groupId: GroupId, tokens: readonly FaceToken[], model: string): AsyncGenerator<WireFace[]> {
    for (let start = 0; start < tokens.length; start += this.pageSize) {
      const page = tokens.slice(start, start + this.pageSize);
      const bindings = await this.store.getBindings(groupId, page);
      yield await this.read(bindings.map((binding, i) => binding ?? { faceToken: page[i]!, boundAt: 0 }), model);
    }
  }
}
