// Bound faces as the sync protocol carries them: the binding's user data
// plus the face's feature, read from the store page by page.
import type { FaceRecord as WireFace } from '../../device-protocol/index.js';
import type { BindingRecord, FaceStore } from '../../storage/store.js';
import type { FaceToken, GroupId } from '../core/ids.js';
import { ErrorCode, FaceError } from '../core/errors.js';

/**
 * A face was deleted (its feature is gone) between reading a group's
 * bindings and reading its features, or comes from another model. The
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
    private readonly searchModel: string,
    private readonly featureDim: number,
    /** Faces read from the store at a time: bounds the memory a stream or snapshot build holds. */
    private readonly pageSize = 500,
  ) {}

  /** Features and user data of bound faces, in the order given. Throws FaceChangedWhileReading. */
  async read(bindings: readonly BindingRecord[]): Promise<WireFace[]> {
    const faces = await this.store.getFaces(bindings.map((binding) => binding.faceToken as FaceToken));
    return bindings.map((binding, i) => {
      const face = faces[i];
      if (!face || face.feature.length !== this.featureDim || face.modelVersion !== this.searchModel) {
        throw new FaceChangedWhileReading(binding.faceToken);
      }
      return {
        faceToken: binding.faceToken,
        ...(binding.userId !== undefined ? { userId: binding.userId } : {}),
        ...(binding.userInfo !== undefined ? { userInfo: binding.userInfo } : {}),
        feature: face.feature,
      };
    });
  }

  /** read(), one page at a time, so memory holds one page of features. */
  async *pages(bindings: readonly BindingRecord[]): AsyncGenerator<WireFace[]> {
    for (let start = 0; start < bindings.length; start += this.pageSize) {
      yield await this.read(bindings.slice(start, start + this.pageSize));
    }
  }

  /**
   * Pages of the faces a DELTA upserts. A face unbound after the delta's
   * version has no binding any more: it is still part of that version (sent
   * without user data); the next sync removes it.
   */
  async *upsertPages(groupId: GroupId, tokens: readonly FaceToken[]): AsyncGenerator<WireFace[]> {
    for (let start = 0; start < tokens.length; start += this.pageSize) {
      const page = tokens.slice(start, start + this.pageSize);
      const bindings = await this.store.getBindings(groupId, page);
      yield await this.read(bindings.map((binding, i) => binding ?? { faceToken: page[i]!, boundAt: 0 }));
    }
  }
}
