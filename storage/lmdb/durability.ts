// Opening the environment and committing durably.
//
// What makes an acknowledged write durable (survives kill -9, and a power
// loss as far as the OS and disk honour fsync):
// - `noSync` is never set: with it LMDB never flushes (data may be lost or the
//   file corrupted on an OS crash).
// - `overlappingSync` (lmdb-js default on non-Windows; we keep it, default
//   true) moves the flush out of the writer lock: the transaction commits
//   and becomes visible, the lock is released so the next batch can start,
//   then the data pages are fsynced and a "flushed" meta page is written.
//   In this mode lmdb-js documents that a write/transaction promise means
//   "committed" (visible), and that `db.flushed` resolves "when all previous
//   writes have been committed and fully flushed/synced to disk". (Reading
//   lmdb-js 3.5.6's writer.cpp/mdb.c, its commit promise in fact also
//   resolves only after mdb_txn_commit returns, which includes that sync; we
//   do not rely on that undocumented detail.)
// - So each write awaits BOTH its transaction promise and `env.flushed`
//   captured right after the transaction was queued (that capture refers to
//   the batch the transaction joined). Only then does the method resolve and
//   are `onCommit` listeners told. With `overlappingSync: false` the commit
//   itself syncs before resolving and `flushed` is the commit promise, so the
//   same code is durable in both modes.
// - Throughput comes from batching, not from weakening the sync: lmdb-js puts
//   every transaction queued in the same event turn (`eventTurnBatching`,
//   default on) into one LMDB transaction with one fsync, so N concurrent
//   callers cost about one commit. `commitDelay` (default 0) can widen the
//   batching window at the cost of latency.
import { open, type RootDatabase } from 'lmdb';
import { MAX_DBS } from './layout.js';

export interface EnvironmentOptions {
  path: string;
  commitDelay: number;
  overlappingSync: boolean;
}

export function openEnvironment(options: EnvironmentOptions): RootDatabase {
  return open({
    path: options.path,
    maxDbs: MAX_DBS,
    commitDelay: options.commitDelay,
    overlappingSync: options.overlappingSync,
    // Never `noSync`, `noMetaSync` or `useWritemap`: see the header.
    noSync: false,
    noMetaSync: false,
  });
}

/**
 * Runs `body` as its own (child) transaction of the next write batch and
 * resolves with its result once that batch is committed AND flushed to disk.
 * A throwing body is rolled back alone (a child transaction), without
 * affecting the other transactions of the batch.
 */
export function durableTransaction<T>(env: RootDatabase, body: () => T): Promise<T> {
  const committed = env.childTransaction(body);
  // `flushed` is a lazy thenable: calling `then` now pins the batch this
  // transaction joined; calling it later could wait for a later batch.
  const flushed = new Promise<unknown>((resolve, reject) => {
    env.flushed.then(resolve, reject);
  });
  return Promise.all([committed, flushed]).then(([result]) => result);
}
