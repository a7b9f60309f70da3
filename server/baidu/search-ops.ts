// Comparison and search of the Baidu dialect (人脸对比, 人脸搜索, M:N 多人脸
// 搜索; cloud match, search, multi-search): parse, call the core's 1:N
// search, format. Scores are the core's one 0-100 scale (core/search/score.ts).
import { cosineSimilarity } from '../../models/engine.js';
import { ErrorCode, FaceError } from '../core/errors.js';
import type { FaceAnalysis } from '../core/face-analysis.js';
import type { GroupName } from '../core/ids.js';
import { scoreOfCosine, type SearchMatch, type SearchService, MAX_TOP_N } from '../core/search/index.js';
import { controlArgs, idArg, idListArg, imageArg, intArg, ID_MAX_BYTES, CLOUD_USER_ID_MAX_BYTES, type Args } from './args.js';
import { type BaiduCall, type BaiduHandler } from './call.js';
import { location } from './format.js';
import { measuredFaces, singleFace } from './image-faces.js';
import { imageObjects } from './vision-ops.js';

/** group_id_list "上限10个". */
const MAX_GROUPS = 10;
/** identify max_user_num "最多返回50个"; midentify "最大值20"; midentify max_face_num "最大值10". */
const MAX_USERS_IDENTIFY = 50;
const MAX_USERS_MIDENTIFY = 20;
const MAX_FACES_MIDENTIFY = 10;

export interface SearchOpsDeps {
  analysis: FaceAnalysis;
  search: SearchService;
}

const round = (score: number) => Number(score.toFixed(8));

/**
 * Face matches folded into Baidu users: the best face of each (group, user),
 * best first, at most `max`. Bindings without a user id (FacePass faces) are
 * not Baidu users and are left out.
 */
export function usersOf(matches: readonly SearchMatch[], max: number) {
  const seen = new Set<string>();
  const users: Array<{ group_id: string; user_id: string; user_info: string; score: number }> = [];
  for (const match of matches) {
    if (match.userId === undefined) continue;
    const key = `${match.groupName}\u0000${match.userId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    users.push({ group_id: match.groupName, user_id: match.userId, user_info: match.userInfo ?? '', score: round(match.score) });
    if (users.length >= max) break;
  }
  return users;
}

const noMatch = () => new FaceError(ErrorCode.NoMatch, 'no user matches the face');

export function searchOps(deps: SearchOpsDeps) {
  const groupsArg = (args: Args) => idListArg(args, 'group_id_list', MAX_GROUPS) as GroupName[];
  const optionalUser = (call: BaiduCall): string | undefined =>
    call.args.user_id === undefined || call.args.user_id === '' ? undefined : idArg(call.args, 'user_id', call.cloud ? CLOUD_USER_ID_MAX_BYTES : ID_MAX_BYTES);

  /** 1:N search, or 1:N authentication with user_id. */
  const identify: BaiduHandler = async (call) => {
    const { args } = call;
    const image = imageArg(args);
    const groups = groupsArg(args);
    const controls = controlArgs(args);
    const userId = optionalUser(call);
    const threshold = intArg(args, 'match_threshold', 0, 0, 100);
    const maxUsers = intArg(args, 'max_user_num', 1, 1, MAX_USERS_IDENTIFY);
    deps.search.assertGroups(call.library, groups);
    const face = await singleFace(deps.analysis, call.library, image, controls);
    const [matches] = await deps.search.search({
      library: call.library,
      groups,
      features: [face.feature],
      topN: MAX_TOP_N,
      ...(userId !== undefined ? { userId } : {}),
      minScore: threshold,
    });
    const users = usersOf(matches ?? [], maxUsers);
    if (users.length === 0) throw noMatch();
    return { face_token: face.faceToken, user_list: users };
  };

  /** M:N: every face of the photo (up to max_face_num, controls filtering), each with its users. */
  const midentify: BaiduHandler = async (call) => {
    const { args } = call;
    const image = imageArg(args);
    const groups = groupsArg(args);
    const maxFaces = intArg(args, 'max_face_num', 1, 1, MAX_FACES_MIDENTIFY);
    const threshold = intArg(args, 'match_threshold', 80, 0, 100);
    const controls = controlArgs(args);
    const maxUsers = intArg(args, 'max_user_num', 1, 1, MAX_USERS_MIDENTIFY);
    deps.search.assertGroups(call.library, groups);
    const faces = await measuredFaces(deps.analysis, call.library, image, { maxFaces, fields: new Set(), controls });
    if (faces.length === 0) throw new FaceError(ErrorCode.FaceNotFound, 'no face detected');
    const hits = await deps.search.search({
      library: call.library,
      groups,
      features: faces.map((face) => face.feature),
      topN: MAX_TOP_N,
      minScore: threshold,
    });
    const list = faces.map((face, i) => ({ face_token: face.faceToken, location: location(face), user_list: usersOf(hits[i] ?? [], maxUsers) }));
    if (list.every((face) => face.user_list.length === 0)) throw noMatch();
    return { face_num: list.length, face_list: list };
  };

  return { identify, midentify } satisfies Record<string, (call: BaiduCall) => Promise<unknown>>;
}
