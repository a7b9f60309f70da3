// Appending to a group's change log. Runs inside the caller's write
// transaction, so the entry, the group's new version and the bindings commit
// together and versions are handed out in commit order without gaps.
import type { Databases, StoredChange } from './layout.js';

/**
 * Writes the entry for `version` and keeps the indexes compaction relies on:
 * - last-change (group, face) -> version of the face's latest change;
 * - compactable marks: the face's previous latest entry is now superseded;
 *   an unbind is a tombstone candidate (it stays one while it is the latest);
 *   create and delete entries carry no face and may go once old enough.
 * A mark on an entry that no longer exists is harmless: compaction drops it.
 */
export function appendChange(db: Databases, groupId: number, version: number, change: StoredChange): void {
  db.changes.putSync([groupId, version], change);
  const token = change.faceToken;
  if (token === undefined) {
    db.compactable.putSync([groupId, version], true);
    return;
  }
  const previous = db.lastChange.get([groupId, token]);
  if (previous !== undefined) db.compactable.putSync([groupId, previous], true);
  db.lastChange.putSync([groupId, token], version);
  if (change.op === 'unbind') db.compactable.putSync([groupId, version], true);
}
