// A group's faces a page at a time, for the console's face grid: a group of
// 100,000 faces is browsed, never read whole. Filtering by user scans at
// most SCAN_LIMIT bindings per request and hands back a cursor to go on.
import type { BindingRecord, FaceStore, GroupRecord } from '../../storage/store.js';
import type { FaceToken, GroupName, LibraryId } from './ids.js';
import { ErrorCode, FaceError } from './errors.js';

export interface GroupFacesQuery {
  /** Continue after this face token (the previous page's `next`). */
  after?: FaceToken;
  limit: number;
  /** Only bindings of this user. */
  userId?: string;
  /** Only this face (0 or 1 result). */
  faceToken?: FaceToken;
}

export interface GroupFacesPage {
  group: GroupRecord;
  faces: BindingRecord[];
  /** Cursor for the next page; null when the group has no more. */
  next: FaceToken | null;
}

/** Largest page a caller may ask for. */
export const MAX_PAGE = 500;
/** Bindings read per request at most when filtering by user. */
const SCAN_LIMIT = 5000;

export class GroupFaces {
  constructor(private readonly store: Pick<FaceStore, 'getGroup' | 'listBindings' | 'getBindings'>) {}

  async page(library: LibraryId, name: GroupName, query: GroupFacesQuery): Promise<GroupFacesPage> {
    const group = await this.store.getGroup(library, name);
    if (!group) throw new FaceError(ErrorCode.GroupNotFound, `group ${name} does not exist`);
    const limit = Math.max(1, Math.min(MAX_PAGE, query.limit));
    if (query.faceToken !== undefined) {
      const [binding] = await this.store.getBindings(group.groupId, [query.faceToken]);
      const matches = binding && (query.userId === undefined || binding.userId === query.userId);
      return { group, faces: matches ? [binding] : [], next: null };
    }
    if (query.userId === undefined) {
      // One more than asked tells whether another page exists.
      const rows = await this.store.listBindings(group.groupId, { after: query.after, limit: limit + 1 });
      const faces = rows.slice(0, limit);
      return { group, faces, next: rows.length > limit ? faces[faces.length - 1]!.faceToken : null };
    }
    const rows = await this.store.listBindings(group.groupId, { after: query.after, limit: SCAN_LIMIT });
    const faces: BindingRecord[] = [];
    let last: FaceToken | undefined;
    for (const row of rows) {
      last = row.faceToken;
      if (row.userId === query.userId) faces.push(row);
      if (faces.length === limit) break;
    }
    const exhausted = rows.length < SCAN_LIMIT && last === rows[rows.length - 1]?.faceToken;
    return { group, faces, next: exhausted || last === undefined ? null : last };
  }
}
