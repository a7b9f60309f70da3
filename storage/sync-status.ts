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
  faceTokensDeleted: number;
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
  record(status: DeviceSyncStatus): Promise<void>;
  /** All devices, by device key. */
  list(): Promise<DeviceSyncStatus[]>;
  /** A consistent copy of every record into `dir` (created if missing), openable by the same backend. */
  backup(dir: string): Promise<void>;
  close(): Promise<void>;
}
