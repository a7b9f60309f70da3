// Read-your-writes for the core's writers (FaceLibrary, UserDirectory): a
// write is acknowledged only once whatever follows the store's commits (the
// search index) has applied it, so a search right after an acknowledged
// bind finds the face and one after an unbind never returns it.
import type { CommittedChange } from '../../storage/store.js';

/** Something that follows the store's commits and must have applied a write before it is acknowledged. */
export interface CommitFollower {
  applied(changes: CommittedChange | readonly CommittedChange[] | null): Promise<void>;
}

/** For a core with no index (tests, tools): every write is applied at once. */
export const NO_FOLLOWER: CommitFollower = { applied: () => Promise.resolve() };

/** Runs a store write, then waits until the follower has applied its changes. */
export async function followed<T extends CommittedChange | CommittedChange[] | null>(follower: CommitFollower, write: Promise<T>): Promise<T> {
  const changes = await write;
  await follower.applied(changes);
  return changes;
}
