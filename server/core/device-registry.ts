// Per-terminal credentials (the admin registers a device and gets its key
// once; the key is stored only as a hash, bound to the device id, and can be
// revoked alone). The shared DEVICE_KEY stays for small sites.
import { createHash, randomBytes } from 'node:crypto';
import type { DeviceKeyRecord, DeviceKeyStore } from '../../storage/device-keys.js';
import { illegalArgument } from './errors.js';

/** The stored form of a per-terminal key. Keys are 32 random bytes, so a plain SHA-256 cannot be searched back. */
export function deviceKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface RegisteredDevice {
  deviceId: string;
  /** Shown once; only its hash is kept. */
  key: string;
  createdAt: number;
}

export class DeviceRegistry {
  constructor(
    private readonly store: DeviceKeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new key for the device; registering again replaces (rotates) its key at once. */
  async register(deviceId: string): Promise<RegisteredDevice> {
    // The prefix tells an operator what the string is; 32 random bytes are the secret.
    const key = `dk_${randomBytes(32).toString('base64url')}`;
    const createdAt = this.now();
    await this.store.register({ deviceId, keyHash: deviceKeyHash(key), createdAt });
    return { deviceId, key, createdAt };
  }

  /** ILLEGAL_ARGUMENT: device_id when the device has no key. */
  async revoke(deviceId: string): Promise<void> {
    if (!(await this.store.revoke(deviceId))) throw illegalArgument('device_id');
  }

  list(page: { after?: string; limit: number }): Promise<DeviceKeyRecord[]> {
    return this.store.list(page);
  }
}
