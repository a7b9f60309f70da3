// Last sync per terminal (spec 底库同步状态查询): what the server last sent
// each device, kept across restarts. Separate from FaceStore because it is
// bookkeeping about terminals, not face-library state, and is written on
// every sync (a lost record is re-written by the next sync).

export interface GroupSyncStatus {
  groupName: string;
  groupId: number;
  localVersion: number;
  cloudVersion: number;
  /** 0 = the response was written to the end, 1 = it failed. */
  resultCode: 0 | 1;
  /** resultCode 0 ? cloudVersion : localVersion (spec). */
  resultVersion: number;
  faceTokensAdded: number;
  /**
   * Tokens sent as removed. null for FULL and RESET: the terminal replaces
   * its whole copy, and what that copy held is not known to the server (the
   * change log is compacted, and a delta's removals are only "possibly held").
   */
  faceTokensDeleted: number | null;
  /** The decision sent (PROTOCOL.md §6): UNCHANGED, DELTA, FULL, GROUP_GONE or RESET. Absent in records of older servers. */
  kind?: string;
  /** The group's token digest at cloudVersion as 16 hex digits (§10); absent for GROUP_GONE. */
  tokenDigest?: string;
}

export interface DeviceSyncStatus {
  /** The key the record is kept under: X-Device-Id when sent, else the IP. */
  device: string;
  deviceId: string | null;
  ip: string;
  /** The terminal software version (`info.version`). */
  clientVersion: string;
  syncTime: number;
  searchModel: string;
  /** The feature encoding the terminal asked for (absent in records written before it was kept). */
  featureEncoding?: string;
  /** Bytes of the sync response (absent in records written before it was kept). */
  bytes?: number;
  groups: GroupSyncStatus[];
}

export interface SyncStatusStore {
  /**
   * Keeps the device's latest sync, replacing its previous one. Beyond the
   * store's device cap, the devices that synced longest ago are dropped.
   * Records of one device are kept in call order (the last call's is the
   * one left). The store opened by openLmdbSyncStatus shows the record to
   * get, list and count from the call on; the promise resolves once it is
   * on disk (and rejects if writing it failed).
   */
  record(status: DeviceSyncStatus): Promise<void>;
  /** Devices sorted by device key, at most `limit` after the key `after`. */
  list(page: { after?: string; limit: number }): Promise<DeviceSyncStatus[]>;
  /** One device by its key. */
  get(device: string): Promise<DeviceSyncStatus | undefined>;
  /** Devices kept. */
  count(): Promise<number>;
  /** A consistent copy of every record into `dir` (created if missing), openable by the same backend. */
  backup(dir: string): Promise<void>;
  close(): Promise<void>;
}
