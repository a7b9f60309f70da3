// The SID vendor API's operations (spec 人脸厂商标准接口 §1-§8): parse,
// call the core, format. Each returns the fields of its answer besides
// `info` and `result`. Scores are the core's 0-100 scale divided by 100,
// as the spec shows them (score: 0.999).
import type { DecodeLimits } from '../../models/engine.js';
import { cosineSimilarity } from '../../models/engine.js';
import { ErrorCode, FaceError, isFaceError, missingArgument } from '../core/errors.js';
import type { AnalyzedFace, FaceAnalysis } from '../core/face-analysis.js';
import type { GroupName, LibraryId } from '../core/ids.js';
import { scoreOfCosine } from '../core/search/score.js';
import type { SearchService } from '../core/search/search-service.js';
import type { UserDirectory } from '../core/user-directory.js';
import { eitherString, groupIdArg, imageBytes, requiredString, topNArg, userIdArg, type Args } from './args.js';
import { decodeFeature, encodeFeature } from './feature-code.js';
import { qualityScores, type MeasuredFace } from './quality-scores.js';

/** SID images: JPEG, PNG or BMP, at most 4 MB decoded and 4096*4096 pixels (the spec sets no limits). */
export const SID_IMAGE_LIMITS: DecodeLimits = { maxBytes: 4 * 1024 * 1024, maxPixels: 4096 * 4096, minSide: 1, formats: ['jpeg', 'png', 'bmp'] };
/** A user's faces per group, as in the Baidu dialect (the same users). */
export const MAX_FACES_PER_USER = 20;
/** Liveness probability from which /liveness/action calls a face live (the Baidu dialect's NORMAL level). */
export const LIVE_THRESHOLD = 0.3;
/** /liveness/action extInfo: 1 live (the spec's value), ours for the others. */
export const EXT_INFO = { noFace: 0, live: 1, attack: 2 } as const;

export interface SidCall {
  library: LibraryId;
  args: Args;
}

export type SidHandler = (call: SidCall) => Promise<Record<string, unknown>>;

export interface SidOpsDeps {
  analysis: FaceAnalysis;
  directory: UserDirectory;
  search: SearchService;
  /** The engine's feature model version and feature length (feature strings carry the first). */
  searchModel: string;
  featureLength: number;
  /** The group of calls without groupId (SID_DEFAULT_GROUP). */
  defaultGroup: GroupName;
  now?: () => number;
}

/** The spec's 0-1 scores, from the core's 0-100. */
const spec01 = (score: number) => Number((score / 100).toFixed(8));

export function sidOps(deps: SidOpsDeps) {
  const now = deps.now ?? Date.now;

  /** The largest face of a base64 image argument, measured as asked; FACE_NOT_FOUND when there is none. */
  const largestFace = async (library: LibraryId, name: string, text: string, extra: { attributes?: boolean; liveness?: boolean } = {}) => {
    const photo = await deps.analysis.analyzePhoto(imageBytes(name, text), { library, limits: SID_IMAGE_LIMITS, maxFaces: 1, ...extra });
    const face = photo.faces[0];
    if (!face) throw new FaceError(ErrorCode.FaceNotFound, `no face in ${name}`, { args: [name] });
    return face;
  };

  const requiredImage = async (call: SidCall, extra?: { attributes?: boolean; liveness?: boolean }): Promise<AnalyzedFace> =>
    largestFace(call.library, 'img', requiredString(call.args, 'img'), extra);

  /** One side of compare: imageX or imgX (the spec spells it both ways), else featureX. */
  const side = async (call: SidCall, letter: 'A' | 'B'): Promise<Float32Array> => {
    const image = eitherString(call.args, [`image${letter}`, `img${letter}`]);
    if (image) return (await largestFace(call.library, image.name, image.value)).feature;
    const feature = eitherString(call.args, [`feature${letter}`]);
    if (feature) return decodeFeature(feature.name, feature.value, deps.searchModel, deps.featureLength);
    throw missingArgument(`img${letter}`);
  };

  const compare: SidHandler = async (call) => {
    const a = await side(call, 'A');
    const b = await side(call, 'B');
    return { score: spec01(scoreOfCosine(cosineSimilarity(a, b))) };
  };

  const multiple: SidHandler = async (call) => {
    const group = groupIdArg(call.args, null);
    const topN = topNArg(call.args);
    const face = await requiredImage(call);
    const users = await deps.search.searchUsers(call.library, group === null ? null : [group], face.feature, topN);
    return { faces: users.map((user) => ({ groupId: user.groupName, score: spec01(user.score), userId: user.userId })) };
  };

  /** Never an error for what it judges: no face and an attack are answers (extInfo), with the time taken in `info`. */
  const liveness: SidHandler = async (call) => {
    const started = now();
    const bytes = imageBytes('param', requiredString(call.args, 'param'));
    const photo = await deps.analysis.analyzePhoto(bytes, { library: call.library, limits: SID_IMAGE_LIMITS, maxFaces: 1, liveness: true });
    const face = photo.faces[0];
    const extInfo = !face ? EXT_INFO.noFace : (face.liveness ?? 0) >= LIVE_THRESHOLD ? EXT_INFO.live : EXT_INFO.attack;
    return { extInfo, info: `动作活体检测耗时:${Math.max(0, Math.round(now() - started))} 攻击类型:${extInfo}` };
  };

  /** groupId is accepted and ignored: analysing a photo involves no group. */
  const feature: SidHandler = async (call) => {
    groupIdArg(call.args, null);
    const face = await requiredImage(call, { attributes: true, liveness: true });
    return { feature: encodeFeature(deps.searchModel, face.feature), qualityScores: qualityScores(face) };
  };

  /** The user's newest face, measured again from its stored photo (what is stored alone if the photo no longer shows it). */
  const get: SidHandler = async (call) => {
    const group = groupIdArg(call.args, deps.defaultGroup);
    const userId = userIdArg(call.args);
    const bindings = await deps.directory.userFaces(call.library, group, userId);
    const newest = bindings.reduce((a, b) => (b.boundAt > a.boundAt ? b : a));
    let measured: MeasuredFace;
    try {
      [measured] = (await deps.analysis.analyzeStored(newest.faceToken, { library: call.library, limits: SID_IMAGE_LIMITS, attributes: true, liveness: true })).faces as [AnalyzedFace];
    } catch (err) {
      if (!isFaceError(err) || err.code !== ErrorCode.FaceNotFound) throw err;
      const stored = await deps.analysis.storedFace(call.library, newest.faceToken);
      const { left, top, right, bottom } = stored.rect;
      measured = { box: { left, top, width: right - left, height: bottom - top }, quality: stored.quality };
    }
    return { groupId: group, qualityScore: qualityScores(measured), userId };
  };

  const remove: SidHandler = async (call) => {
    const group = groupIdArg(call.args, deps.defaultGroup);
    await deps.directory.deleteUser(call.library, group, userIdArg(call.args));
    return {};
  };

  /** add appends a face (group and user created on the way); updatefeature replaces the faces of an existing user. */
  const enrol = (mode: 'add' | 'update'): SidHandler => async (call) => {
    const group = groupIdArg(call.args, deps.defaultGroup);
    const userId = userIdArg(call.args);
    if (mode === 'update') await deps.directory.userFaces(call.library, group, userId); // record not found before any engine work
    const face = await requiredImage(call);
    await deps.directory.enrol(call.library, group, face.faceToken, { userId }, {
      createGroup: mode === 'add',
      replace: mode === 'update',
      mustExist: mode === 'update',
      maxFacesPerUser: MAX_FACES_PER_USER,
    });
    return mode === 'add' ? { userId } : {};
  };

  return { compare, multiple, liveness, feature, get, remove, update: enrol('update'), add: enrol('add') } satisfies Record<string, SidHandler>;
}
