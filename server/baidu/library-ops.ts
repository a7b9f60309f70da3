// Face library operations of the Baidu dialect (人脸管理, 用户管理, 用户组管理,
// 人脸库管理): parse, call the core, format. The cloud faceset paths map
// onto the same handlers (routes.ts).
import { ErrorCode, FaceError, isFaceError } from '../core/errors.js';
import type { FaceAnalysis } from '../core/face-analysis.js';
import type { FaceToken, GroupName, LibraryId } from '../core/ids.js';
import type { FaceLibrary } from '../core/face-library.js';
import type { UserDirectory } from '../core/user-directory.js';
import {
  controlArgs,
  enumArg,
  groupArg,
  groupOrAllArg,
  idListArg,
  illegal,
  imageArg,
  intArg,
  isId,
  requiredString,
  userInfoArg,
  type Args,
} from './args.js';
import { userIdArg, type BaiduCall, type BaiduHandler } from './call.js';
import { location } from './format.js';
import { singleFace } from './image-faces.js';

/** "组下单个用户的人脸数目限制为20张" (per group, not summed over groups). */
export const MAX_FACES_PER_USER = 20;
/** group/list, user/list: start from 0, length 1..1000, default 100. */
const MAX_PAGE = 1000;
/** statgroup: "限制20个". */
const MAX_STAT_GROUPS = 20;

export interface LibraryOpsDeps {
  analysis: FaceAnalysis;
  directory: UserDirectory;
  library: FaceLibrary;
}

/** Baidu's "YYYY-MM-DD HH:mm:ss", in the server's local time as Baidu's servers report theirs. */
export function baiduTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const page = (args: Args) => ({ offset: intArg(args, 'start', 0, 0, 2 ** 32 - 1), limit: intArg(args, 'length', 100, 1, MAX_PAGE) });

export function libraryOps(deps: LibraryOpsDeps) {
  /** face add (APPEND/REPLACE) and face update (UPDATE/REPLACE). */
  const enrol = (mode: 'add' | 'update'): BaiduHandler => async (call) => {
    const { args } = call;
    const image = imageArg(args);
    const groupId = groupArg(args);
    const userId = userIdArg(call);
    const userInfo = userInfoArg(args);
    const controls = controlArgs(args);
    const action =
      mode === 'add'
        ? enumArg(args, 'action_type', ['APPEND', 'REPLACE'] as const, 'APPEND')
        : enumArg(args, 'action_type', ['UPDATE', 'REPLACE'] as const, 'UPDATE');
    const face = await singleFace(deps.analysis, call.library, image, controls);
    await deps.directory.enrol(call.library, groupId, face.faceToken, { userId, ...(userInfo !== undefined ? { userInfo } : {}) }, {
      // add creates group and user when missing; update's REPLACE registers a missing user; UPDATE needs both.
      createGroup: action !== 'UPDATE',
      replace: action !== 'APPEND',
      mustExist: action === 'UPDATE',
      maxFacesPerUser: MAX_FACES_PER_USER,
    });
    return { face_token: face.faceToken, location: location(face) };
  };

  const faceList: BaiduHandler = async (call) => {
    const userId = userIdArg(call);
    const bindings = await deps.directory.userFaces(call.library, groupArg(call.args), userId);
    return { face_list: bindings.map((binding) => ({ face_token: binding.faceToken, ctime: baiduTime(binding.boundAt) })) };
  };

  const faceDelete: BaiduHandler = async (call) => {
    const userId = userIdArg(call);
    const groupId = groupArg(call.args);
    const token = requiredString(call.args, 'face_token');
    if (!/^[A-Za-z0-9_=-]{1,64}$/.test(token)) throw illegal('face_token');
    await deps.directory.removeUserFace(call.library, groupId, userId, token as FaceToken);
    return null;
  };

  const userGet: BaiduHandler = async (call) => {
    const userId = userIdArg(call);
    const memberships = await deps.directory.memberships(call.library, groupOrAllArg(call.args), userId);
    return { user_list: memberships.map(({ group, user }) => ({ user_info: user.userInfo, group_id: group.name })) };
  };

  const userList: BaiduHandler = async (call) => {
    const groupId = groupArg(call.args);
    const users = await deps.directory.listUsers(call.library, groupId, page(call.args));
    return { user_id_list: users.map((user) => user.userId) };
  };

  const userCopy: BaiduHandler = async (call) => {
    const userId = userIdArg(call);
    const from = groupArg(call.args, 'src_group_id');
    const to = groupArg(call.args, 'dst_group_id');
    try {
      await deps.directory.copyUser(call.library, from, to, userId, MAX_FACES_PER_USER);
    } catch (err) {
      // The spec's own code for a missing destination (223111 dst group is not exist).
      if (isFaceError(err) && err.code === ErrorCode.GroupNotFound && err.details.groupName === to && to !== from) {
        throw new FaceError(ErrorCode.GroupNotFound, err.message, { ...err.details, role: 'destination' });
      }
      throw err;
    }
    return null;
  };

  const userDelete: BaiduHandler = async (call) => {
    const group = groupOrAllArg(call.args);
    await deps.directory.deleteUser(call.library, group, userIdArg(call));
    return null;
  };

  const groupAdd: BaiduHandler = async (call) => {
    await deps.library.createGroup(call.library, groupArg(call.args));
    return null;
  };

  const groupDelete: BaiduHandler = async (call) => {
    await deps.library.deleteGroup(call.library, groupArg(call.args));
    return null;
  };

  const groupList: BaiduHandler = async (call) => {
    const { offset, limit } = page(call.args);
    const groups = await deps.library.listGroups(call.library);
    return { group_id_list: groups.slice(offset, offset + limit).map((group) => group.name) };
  };

  /** facehub/statapp: op_app_id_list "a,b" -> {a: {group_num}, ...}. */
  const statApp: BaiduHandler = async (call) => {
    const appids = idListArg(call.args, 'op_app_id_list', 100);
    const out: Record<string, { group_num: number }> = {};
    for (const appid of appids) out[appid] = { group_num: (await deps.library.listGroups(appid as LibraryId)).length };
    return out;
  };

  /** facehub/statgroup: op_app_id + group_id_list (<= 20) -> {gid: {user_num, face_num, ctime, utime}}; unknown groups are left out. */
  const statGroup: BaiduHandler = async (call) => {
    const appid = requiredString(call.args, 'op_app_id');
    if (!isId(appid)) throw illegal('op_app_id');
    const names = idListArg(call.args, 'group_id_list', MAX_STAT_GROUPS) as GroupName[];
    const out: Record<string, unknown> = {};
    for (const group of await deps.directory.groupStats(appid as LibraryId, names)) {
      out[group.name] = { user_num: group.userCount, face_num: group.faceCount, ctime: baiduTime(group.createdAt), utime: baiduTime(group.updatedAt) };
    }
    return out;
  };

  const appList: BaiduHandler = async () => ({ app_id_list: await deps.directory.listLibraries() });

  return {
    faceAdd: enrol('add'),
    faceUpdate: enrol('update'),
    faceList,
    faceDelete,
    userGet,
    userList,
    userCopy,
    userDelete,
    groupAdd,
    groupDelete,
    groupList,
    statApp,
    statGroup,
    appList,
  } satisfies Record<string, (call: BaiduCall) => Promise<unknown>>;
}
