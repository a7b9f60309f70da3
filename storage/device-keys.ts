// Per-terminal credentials: which device id a terminal key belongs to. Only
// a hash of each key is kept (the key itself is shown once, at
// registration). Separate from FaceStore: it is access control about
// terminals, not face-library state.

export interface DeviceKeyRecord {
  deviceId: string;
  /** SHA-256 of the key, hex. */
  keyHash: string;
  createdAt: number;
}

export interface DeviceKeyStore {
  /** Binds a key hash to the device, replacing the device's previous key (rotation). */
  register(record: DeviceKeyRecord): Promise<void>;
  /** Forgets the device's key; false when the device was not registered. */
  revoke(deviceId: string): Promise<boolean>;
  /** The device a key hash belongs to. Synchronous: it is asked on every request. */
  deviceOfKey(keyHash: string): string | undefined;
  /** Whether the device id is registered (then only its own key may name it). */
  isRegistered(deviceId: string): boolean;
  /** Registered devices sorted by id, at most `limit` after `after`. */
  list(page: { after?: string; limit: number }): Promise<DeviceKeyRecord[]>;
  close(): Promise<void>;
}
