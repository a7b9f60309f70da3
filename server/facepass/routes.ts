// The FacePass admin API (spec sections 通用部分 .. Group解绑Face, 版本查询):
// parse and validate, call the core, format. Nothing else lives here.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import { requestSignal } from '../http/request-signal.js';
import { DEFAULT_LIBRARY } from '../core/ids.js';
import { illegalArgument, missingArgument } from '../core/errors.js';
import type { Enrolment } from '../core/enrolment.js';
import type { FaceLibrary } from '../core/face-library.js';
import type { Authenticator } from '../http/auth.js';
import { readJsonObject, readMultipart } from '../http/body.js';
import { faceToken, groupName, imageId, optionalArg, requiredArgs } from './args.js';
import { facepassRoute, type FacePassResult } from './envelope.js';

export interface FacePassDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  library: FaceLibrary;
  enrolment: Enrolment;
  /** For GET /api/version/v1. */
  version: { server: string; detail: Record<string, string> };
}

/** The library FacePass works on: it has no notion of several. */
const library = DEFAULT_LIBRARY;

export function facepassRouter(deps: FacePassDeps): Router {
  const router = new Router();
  const json = (ctx: Context) => readJsonObject(ctx.req, deps.config.maxRequestBytes);
  const admin = (handler: (ctx: Context) => Promise<FacePassResult>) =>
    facepassRoute(deps.auth, 'admin', deps.logger, handler);

  router.post('/api/face/v1/add', admin(async (ctx) => {
    const form = await readMultipart(ctx.req, deps.config.maxRequestBytes);
    const image = form.files.get('image');
    if (!image) throw form.fields.has('image') ? illegalArgument('image') : missingArgument('image');
    const face = await deps.enrolment.enrol(image.bytes, {
      library,
      limits: deps.config.faceAddImage,
      admission: deps.config.admission,
      signal: requestSignal(ctx, deps.config.engineDeadlineMs),
    });
    return { face_token: face.faceToken, image_id: face.imageId, rect: face.rect };
  }));

  router.post('/api/face/v1/delete', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { face_token: faceToken });
    await deps.library.deleteFace(args.face_token);
    return {};
  }));

  router.post('/api/face/v1/query', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { face_token: faceToken });
    const face = await deps.library.getFace(args.face_token);
    return { image_id: face.imageId, rect: face.rect };
  }));

  router.get('/api/image/v1/query', admin(async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    // Spec: when both are given, only face_token is handled.
    const token = optionalArg(query, 'face_token', faceToken);
    if (token) {
      const crop = await deps.library.getFaceCrop(token);
      return { file: crop.bytes, mime: crop.mime };
    }
    if (query.image_id === undefined) throw missingArgument('image_id', 'face_token');
    const { image_id } = requiredArgs(query, { image_id: imageId });
    const original = await deps.library.getImage(image_id);
    return { file: original.bytes, mime: original.mime };
  }));

  router.post('/api/group/v1/create', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { group_name: groupName });
    await deps.library.createGroup(library, args.group_name);
    return {};
  }));

  router.post('/api/group/v1/delete', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { group_name: groupName });
    await deps.library.deleteGroup(library, args.group_name);
    return {};
  }));

  router.post('/api/group/v1/query', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { group_name: groupName });
    const faces = await deps.library.groupFaceTokens(library, args.group_name);
    return { group_name: args.group_name, faces };
  }));

  router.get('/api/group/v1/list', admin(async () => {
    const groups = await deps.library.listGroups(library);
    return { groups: groups.map((group) => group.name) };
  }));

  router.post('/api/group/v1/bind', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { group_name: groupName, face_token: faceToken });
    await deps.library.bind(library, args.group_name, args.face_token);
    return {};
  }));

  router.post('/api/group/v1/unbind', admin(async (ctx) => {
    const args = requiredArgs(await json(ctx), { group_name: groupName, face_token: faceToken });
    await deps.library.unbind(library, args.group_name, args.face_token);
    return {};
  }));

  // Diagnostic only (spec 版本查询), so it needs no key: it names versions, no data.
  router.get('/api/version/v1', facepassRoute(deps.auth, 'public', deps.logger, async () => ({
    version: deps.version.server,
    detail: deps.version.detail,
  })));

  return router;
}
