// What each group of a sync request gets, from the spec's 底库同步 table:
//
//   terminal's model differs from the server's      -> RESET (drop everything) + full copy
//   group unknown on the server (never or deleted)   -> GROUP_GONE: no error, terminal keeps its copy
//   no group_id (or 0), or local_version 0           -> FULL
//   group_id differs (group was re-created)          -> FULL
//   same version                                     -> UNCHANGED
//   other version, log reaches back                  -> DELTA (net effect local -> cloud)
//   other version, log compacted past it, or local
//   ahead of the cloud ("even if local is larger")   -> FULL
import type { FaceStore, GroupDelta, GroupRecord } from '../../storage/store.js';
import type { GroupId, GroupName, LibraryId } from '../core/ids.js';

export interface GroupSyncRequest {
  /** Absent (or 0) when the terminal has never synced this group. */
  groupId: GroupId | undefined;
  groupName: GroupName;
  localVersion: number;
}

export type GroupPlan =
  | { kind: 'GROUP_GONE'; request: GroupSyncRequest }
  | { kind: 'UNCHANGED'; request: GroupSyncRequest; group: GroupRecord }
  | { kind: 'DELTA'; request: GroupSyncRequest; group: GroupRecord; delta: GroupDelta }
  | { kind: 'FULL' | 'RESET'; request: GroupSyncRequest; group: GroupRecord };

export async function planGroup(
  store: FaceStore,
  library: LibraryId,
  request: GroupSyncRequest,
  modelMatches: boolean,
): Promise<GroupPlan> {
  const group = await store.getGroup(library, request.groupName);
  if (!group) return { kind: 'GROUP_GONE', request };
  if (!modelMatches) return { kind: 'RESET', request, group };
  if (!request.groupId || request.localVersion === 0 || request.groupId !== group.groupId) {
    return { kind: 'FULL', request, group };
  }
  if (request.localVersion === group.version) return { kind: 'UNCHANGED', request, group };
  const delta = await store.deltaSince(group.groupId, request.localVersion);
  // The group may have moved on between the two reads; the delta names the version it reached.
  if (!delta) return { kind: 'FULL', request, group };
  const current = delta.toVersion === group.version ? group : await store.getGroupById(group.groupId);
  if (!current || current.deletedAt !== null) return { kind: 'GROUP_GONE', request };
  if (current.version !== delta.toVersion) return { kind: 'FULL', request, group: current };
  return { kind: 'DELTA', request, group: current, delta };
}
