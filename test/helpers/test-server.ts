// Starts a FaceServer on port 0 with a temporary data dir, for integration tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackConfig, type ServerConfig } from '../../server/config.js';
import { FaceServer, type FaceServerOptions } from '../../server/app.js';
import type { FaceEngine } from '../../models/engine.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';
export const TEST_DEVICE_KEY = 'test-device-key-0123456789';

export interface TestServer {
  server: FaceServer;
  url: string;
  dataDir: string;
  /** Restarts on the same data dir (and a new port), with another engine if given. */
  restart(engine?: FaceEngine, options?: Pick<FaceServerOptions, 'modelUpgrade'>): Promise<void>;
  /** Closes the server and removes the data dir. */
  cleanup(): Promise<void>;
}

export function testConfig(dataDir: string, overrides: Partial<ServerConfig> = {}): ServerConfig {
  return loopbackConfig(dataDir, { adminKey: TEST_ADMIN_KEY, deviceKey: TEST_DEVICE_KEY, engineThreads: 2, ...overrides });
}

export async function startTestServer(engine: FaceEngine, overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'face-server-test-'));
  const config = testConfig(dataDir, overrides);
  const handle: TestServer = {
    server: await FaceServer.start({ config, engine }),
    get url() {
      return handle.server.url;
    },
    dataDir,
    async restart(next = engine, options = {}) {
      await handle.server.close();
      handle.server = await FaceServer.start({ config, engine: next, ...options });
    },
    async cleanup() {
      await handle.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
