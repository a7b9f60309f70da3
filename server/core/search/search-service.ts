// 1:N face search, the core every dialect calls (FacePass recognize, Baidu
// search / multi-search, SID). No HTTP here.
//
// How to call it:
//
//   const hits = await search.search({
//     library: DEFAULT_LIBRARY,            // Baidu: the appid's library
//     groups: ['lobby', 'staff'],          // 1..10 live group names
//     features: [feature1, feature2],      // 1..20 query faces (M:N), engine.embed() output
//     topN: 5,                             // per query face, 1..50 (default 1)
//     userId: 'u42',                       // optional: only faces bound with this user id
//     minScore: 80,                        // optional: drop matches below this score (0-100)
//   });
//   // hits[i] = matches of features[i], best first:
//   //   { faceToken, groupName, userId?, userInfo?, score (0-100), cosine }
//
// Unknown group: FaceError GROUP_NOT_FOUND with details.groupName. Bounds
// broken: ILLEGAL_ARGUMENT with details.args ['groups'|'features'|'topN'|
// 'minScore'|'userId'] (dialects check with their own names first).
//
// Candidates come from the int8 index (vectorised, exact over the group);
// the best of them are re-ranked with the float32 features read from the
// store, so the scores returned are exact float32 cosines mapped by
// score.ts. A face in two of the searched groups is a match in each.
import type { FaceStore } from '../../../storage/store.js';
import { illegalArgument, ErrorCode, FaceError } from '../errors.js';
import type { FaceToken, GroupName, LibraryId } from '../ids.js';
import type { FaceIndex, IndexedGroup } from './face-index.js';
import { quantize } from './quantize.js';
import { cosineOfScore, scoreOfCosine } from './score.js';

/** Baidu multi-search allows up to 10 groups. */
export const MAX_SEARCH_GROUPS = 10;
/** Baidu max_user_num allows up to 50. */
export const MAX_TOP_N = 50;
/** Query faces per call (M:N); one frame rarely holds more. */
export const MAX_QUERY_FACES = 20;
/**
 * Candidates per group and query beyond topN that the float32 re-rank sees:
 * the int8 cosine error (~1e-3) is far below the gap between the top
 * matches this margin covers.
 */
const RERANK_MARGIN = 16;

export interface SearchRequest {
  library: LibraryId;
  groups: readonly GroupName[];
  features: readonly Float32Array[];
  topN?: number;
  userId?: string;
  minScore?: number;
}

export interface SearchMatch {
  faceToken: FaceToken;
  groupName: GroupName;
  userId?: string;
  userInfo?: string;
  /** 0-100, score.ts. */
  score: number;
  /** The exact float32 cosine similarity behind the score. */
  cosine: number;
}

/** A user's best face in one group, as the SID dialect ranks users. */
export interface UserMatch {
  groupName: GroupName;
  userId: string;
  faceToken: FaceToken;
  /** 0-100, score.ts. */
  score: number;
  cosine: number;
}

export class SearchService {
  constructor(
    private readonly index: FaceIndex,
    private readonly store: FaceStore,
    private readonly dimensions: number,
  ) {}

  /** Matches per query feature, best first, at most topN each. */
  async search(request: SearchRequest): Promise<SearchMatch[][]> {
    const topN = request.topN ?? 1;
    const minScore = request.minScore ?? 0;
    this.check(request, topN, minScore);
    const groups = this.resolve(request.library, request.groups);
    const minCosine = minScore > 0 ? cosineOfScore(minScore) : -Infinity;

    // Candidate tokens per query, per group.
    const perQuery = request.features.map((feature) => {
      const found: Array<{ group: IndexedGroup; token: FaceToken }> = [];
      if (request.userId !== undefined) {
        // One user's faces: a handful, scored exactly below.
        for (const group of groups) for (const token of group.gallery.tokensOfUser(request.userId)) found.push({ group, token });
      } else {
        const code = quantize(feature);
        for (const group of groups) {
          for (const c of group.gallery.candidates(code, topN + RERANK_MARGIN)) found.push({ group, token: c.faceToken });
        }
      }
      return found;
    });

    const tokens = [...new Set(perQuery.flatMap((found) => found.map((f) => f.token)))];
    const stored = tokens.length > 0 ? await this.store.getFeatures(tokens) : [];
    const features = new Map<FaceToken, Float32Array>();
    stored.forEach((feature, i) => {
      if (feature && feature.length === this.dimensions) features.set(tokens[i]!, feature);
    });

    return perQuery.map((found, q) => {
      const query = request.features[q]!;
      const matches: SearchMatch[] = [];
      for (const { group, token } of found) {
        const stored = features.get(token);
        // Unbound since the candidates were taken: not a match any more.
        if (!stored || !group.gallery.has(token)) continue;
        const cosine = dot(query, stored);
        if (cosine < minCosine) continue;
        const user = group.gallery.userOf(token);
        matches.push({
          faceToken: token,
          groupName: group.name,
          ...(user?.userId !== undefined ? { userId: user.userId } : {}),
          ...(user?.userInfo !== undefined ? { userInfo: user.userInfo } : {}),
          score: scoreOfCosine(cosine),
          cosine,
        });
      }
      matches.sort((a, b) => b.cosine - a.cosine || (a.faceToken < b.faceToken ? -1 : 1));
      return matches.slice(0, topN);
    });
  }

  /**
   * The users of some groups (or of every live group of the library, for
   * `null`) most similar to one feature, best first, each user once per
   * group (its best face), at most topN. Faces bound without a user id are
   * not users and are passed over. Unknown group: GROUP_NOT_FOUND.
   */
  async searchUsers(library: LibraryId, names: readonly GroupName[] | null, feature: Float32Array, topN: number): Promise<UserMatch[]> {
    if (feature.length !== this.dimensions) throw illegalArgument('features');
    if (!Number.isInteger(topN) || topN < 1) throw illegalArgument('topN');
    const groups = names === null ? this.live(library, await this.store.listGroups(library)) : this.resolve(library, names);
    const code = quantize(feature);
    const found: UserMatch[] = [];
    for (const group of groups) found.push(...(await this.bestUsers(group, code, feature, topN)));
    return found
      .sort((a, b) => b.cosine - a.cosine || compare(a.userId, b.userId) || compare(a.groupName, b.groupName))
      .slice(0, topN);
  }

  /**
   * The group's topN users: candidates widen (x4 a round) until they hold
   * topN distinct users or the whole group, so a user with many faces, or
   * faces without users, cannot crowd the others out.
   */
  private async bestUsers(group: IndexedGroup, code: Int8Array, feature: Float32Array, topN: number): Promise<UserMatch[]> {
    const size = group.gallery.size;
    if (size === 0) return [];
    for (let k = Math.min(size, topN + RERANK_MARGIN); ; k = Math.min(size, k * 4)) {
      const tokens = group.gallery.candidates(code, k).map((c) => c.faceToken);
      const stored = tokens.length > 0 ? await this.store.getFeatures(tokens) : [];
      const best = new Map<string, UserMatch>();
      tokens.forEach((token, i) => {
        const user = group.gallery.userOf(token);
        const vector = stored[i];
        // Unbound since the candidates were taken, a face of no user, or another model's feature.
        if (!user?.userId || !vector || vector.length !== this.dimensions || !group.gallery.has(token)) return;
        const cosine = dot(feature, vector);
        const known = best.get(user.userId);
        if (!known || cosine > known.cosine) {
          best.set(user.userId, { groupName: group.name, userId: user.userId, faceToken: token, score: scoreOfCosine(cosine), cosine });
        }
      });
      if (best.size >= topN || k >= size) return [...best.values()];
    }
  }

  private check(request: SearchRequest, topN: number, minScore: number): void {
    if (request.groups.length < 1 || request.groups.length > MAX_SEARCH_GROUPS) throw illegalArgument('groups');
    if (request.features.length < 1 || request.features.length > MAX_QUERY_FACES) throw illegalArgument('features');
    if (request.features.some((f) => f.length !== this.dimensions)) throw illegalArgument('features');
    if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) throw illegalArgument('topN');
    if (!Number.isFinite(minScore) || minScore < 0 || minScore > 100) throw illegalArgument('minScore');
    if (request.userId !== undefined && request.userId === '') throw illegalArgument('userId');
  }

  /** GROUP_NOT_FOUND (details.groupName) unless every named group is live: a cheap check before engine work. */
  assertGroups(library: LibraryId, names: readonly GroupName[]): void {
    this.resolve(library, names);
  }

  /** The indexed groups of these store records (a group deleted meanwhile is left out). */
  private live(library: LibraryId, records: readonly { name: GroupName }[]): IndexedGroup[] {
    return records.map((record) => this.index.group(library, record.name)).filter((group): group is IndexedGroup => group !== undefined);
  }

  /** The indexed groups, each once; GROUP_NOT_FOUND names the first unknown one. */
  private resolve(library: LibraryId, names: readonly GroupName[]): IndexedGroup[] {
    const out: IndexedGroup[] = [];
    for (const name of new Set(names)) {
      const group = this.index.group(library, name);
      if (!group) throw new FaceError(ErrorCode.GroupNotFound, `group ${name} does not exist`, { groupName: name });
      out.push(group);
    }
    return out;
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
