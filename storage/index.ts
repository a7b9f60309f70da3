// Public surface of the storage package: the FaceStore contract and its LMDB
// implementation. Everything under storage/lmdb/ other than what is
// re-exported here is internal.
export type * from './store.js';
export { openLmdbStore, LMDB_STORE_DEFAULTS } from './lmdb/lmdb-store.js';
export type { LmdbStoreOptions, LmdbFaceStore } from './lmdb/lmdb-store.js';
export type * from './sync-status.js';
export { openLmdbSyncStatus } from './lmdb/lmdb-sync-status.js';
export type * from './device-keys.js';
export { openLmdbDeviceKeys } from './lmdb/lmdb-device-keys.js';
