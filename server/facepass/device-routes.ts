// Per-terminal credentials, FacePass-style admin API (an addition; the spec
// has one shared terminal setup): register a device (its key is in the
// answer, once), list the registered devices, revoke one.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isValidDeviceId } from '../../device-protocol/index.js';
import type { ServerConfig } from '../config.js';
import type { DeviceRegistry } from '../core/device-registry.js';
import type { Authenticator } from '../http/auth.js';
import { readJsonObject } from '../http/body.js';
import { optionalArg, pageLimit, requiredArgs, type ArgParser } from './args.js';
import { facepassRoute, type FacePassResult } from './envelope.js';

export interface DeviceRouteDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  registry: DeviceRegistry;
  /** Called after a revocation, to close the device's open push connection. */
  onRevoked?: (deviceId: string) => void;
}

export const DEVICE_PAGE_DEFAULT = 100;
export const DEVICE_PAGE_MAX = 1000;

const deviceId: ArgParser<string> = (value) => (isValidDeviceId(value) ? value : undefined);

export function deviceRouter(deps: DeviceRouteDeps): Router {
  const router = new Router();
  const json = (ctx: Context) => readJsonObject(ctx.req, deps.config.maxRequestBytes);
  const admin = (handler: (ctx: Context) => Promise<FacePassResult>) => facepassRoute(deps.auth, 'admin', deps.logger, handler);

  router.post('/api/device/v1/register', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { device_id: deviceId });
    const device = await deps.registry.register(args.device_id);
    // The id only: the key must never reach the log.
    deps.logger.info({ deviceId: device.deviceId }, 'device key registered');
    return { device_id: device.deviceId, device_key: device.key, created_at: device.createdAt };
  }));

  router.post('/api/device/v1/revoke', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { device_id: deviceId });
    await deps.registry.revoke(args.device_id);
    deps.logger.info({ deviceId: args.device_id }, 'device key revoked');
    deps.onRevoked?.(args.device_id);
    return {};
  }));

  router.get('/api/device/v1/list', admin(async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const limit = optionalArg(query, 'limit', pageLimit(DEVICE_PAGE_MAX)) ?? DEVICE_PAGE_DEFAULT;
    const after = optionalArg(query, 'after', deviceId);
    const page = await deps.registry.list({ after, limit: limit + 1 });
    const devices = page.slice(0, limit);
    return {
      devices: devices.map((device) => ({ device_id: device.deviceId, created_at: device.createdAt })),
      ...(page.length > limit ? { next: devices[devices.length - 1]!.deviceId } : {}),
    };
  }));

  return router;
}
