// Access keys. The admin API must not be open to the network by accident:
// when no key is configured, one is generated on first start, kept (mode
// 0600) in the data dir and reported once so the operator can copy it.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type KeyRole = 'admin' | 'device';

export interface AccessKeys {
  admin: string;
  device: string;
  /** Roles whose key was generated just now (print these once). */
  generated: KeyRole[];
}

const keyFile = (dataDir: string, role: KeyRole) => join(dataDir, `${role}.key`);

function loadOrCreate(dataDir: string, role: KeyRole, configured: string | undefined, generated: KeyRole[]): string {
  if (configured) return configured;
  const path = keyFile(dataDir, role);
  if (existsSync(path)) {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length > 0) return stored;
  }
  const key = randomBytes(24).toString('base64url');
  // 'wx' never overwrites a key another process wrote in the meantime.
  writeFileSync(path, key + '\n', { mode: 0o600, flag: 'wx' });
  generated.push(role);
  return key;
}

/** Keys from config, else from the data dir, else freshly generated and stored. */
export function resolveAccessKeys(dataDir: string, adminKey?: string, deviceKey?: string): AccessKeys {
  const generated: KeyRole[] = [];
  const admin = loadOrCreate(dataDir, 'admin', adminKey, generated);
  const device = loadOrCreate(dataDir, 'device', deviceKey, generated);
  return { admin, device, generated };
}
