// 1:N by user: the users of some groups most similar to one feature, best
// first, each user once (its best face). An exact cosine scan over the
// groups' bindings, read page by page from the store: correct at any size,
// linear in the faces searched. The core search service (server/core/search,
// an in-memory index) answers the same question faster; when it is wired in,
// this function is the one place to replace.
import { cosineSimilarity } from '../../models/engine.js';
import type { FaceStore, GroupRecord } from '../../storage/store.js';
import { ErrorCode, FaceError } from './errors.js';
import type { FaceToken, GroupName, LibraryId } from './ids.js';
import { scoreOfCosine } from './search/score.js';

export interface NearestUser {
  groupName: GroupName;
  userId: string;
  faceToken: FaceToken;
  cosine: number;
  /** 0-100, search/score.ts. */
  score: number;
}

/** Bindings (and features) read per store call. */
const SCAN_PAGE = 1000;

/** The scan as a service of the core: one group, or every group of the library. */
export class NearestUsers {
  constructor(private readonly store: FaceStore) {}

  /** GROUP_NOT_FOUND when a named group does not exist; every live group of the library for `null`. */
  async search(library: LibraryId, group: GroupName | null, feature: Float32Array, topN: number): Promise<NearestUser[]> {
    let groups: GroupRecord[];
    if (group === null) {
      groups = await this.store.listGroups(library);
    } else {
      const found = await this.store.getGroup(library, group);
      if (!found) throw new FaceError(ErrorCode.GroupNotFound, `group ${group} does not exist`, { groupName: group });
      groups = [found];
    }
    return nearestUsers(this.store, groups, feature, topN);
  }
}

/** Users of the groups nearest to `feature`, at most topN, best first. Faces without a user id are not users and are skipped. */
export async function nearestUsers(store: FaceStore, groups: readonly GroupRecord[], feature: Float32Array, topN: number): Promise<NearestUser[]> {
  // Best face per (group, user): a user in two groups is a match in each, as the spec's faces[] carry groupId.
  const best = new Map<string, NearestUser>();
  for (const group of groups) {
    let after: FaceToken | undefined;
    for (;;) {
      const page = await store.listBindings(group.groupId, { ...(after !== undefined ? { after } : {}), limit: SCAN_PAGE });
      if (page.length === 0) break;
      after = page[page.length - 1]!.faceToken;
      const users = page.filter((binding) => binding.userId !== undefined && binding.userId !== '');
      const faces = await store.getFaces(users.map((binding) => binding.faceToken));
      users.forEach((binding, i) => {
        const face = faces[i];
        // Deleted meanwhile, or a feature of another length (never compared across models).
        if (!face || face.deletedAt !== null || face.feature.length !== feature.length) return;
        const cosine = cosineSimilarity(feature, face.feature);
        const key = `${group.groupId}\u0000${binding.userId}`;
        const known = best.get(key);
        if (!known || cosine > known.cosine) {
          best.set(key, { groupName: group.name, userId: binding.userId!, faceToken: binding.faceToken, cosine, score: scoreOfCosine(cosine) });
        }
      });
      if (page.length < SCAN_PAGE) break;
    }
  }
  return [...best.values()]
    .sort((a, b) => b.cosine - a.cosine || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.groupName < b.groupName ? -1 : 1))
    .slice(0, topN);
}
