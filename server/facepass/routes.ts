// The FacePass admin API (spec sections 通用部分 .. Group解绑Face, 版本查询):
// parse and validate, call the core, format. Nothing else lives here.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import { requestSignal } from '../http/request-signal.js';
import { DEFAULT_LIBRARY } from '../core/ids.js';
import { ErrorCode, FaceError, illegalArgument, isFaceError, missingArgument } from '../core/errors.js';
import type { Enrolment } from '../core/enrolment.js';
import type { FaceLibrary } from '../core/face-library.js';
import type { Authenticator } from '../http/auth.js';
import { readJsonObject, readMultipart } from '../http/body.js';
import { faceToken, groupName, imageId, optionalArg, pageLimit, requiredArgs } from './args.js';
import { facepassRoute, type FacePassResult } from './envelope.js';

export interface FacePassDeps {
  config: ServerConfig;
  auth: Authenticator;
  logger: Logger;
  library: FaceLibrary;
  enrolment: Enrolment;
  /** For GET /api/version/v1. */
  /** detail is built per request (a model upgrade's progress changes). */
  version: { server: string; detail: () => Promise<Record<string, unknown>> };
}

export const FACE_PAGE_DEFAULT = 100;
export const FACE_PAGE_MAX = 1000;


/** The library FacePass works on: it has no notion of several. */
const library = DEFAULT_LIBRARY;

export function facepassRouter(deps: FacePassDeps): Router {
  const router = new Router();
  const json = (ctx: Context) => readJsonObject(ctx.req, deps.config.maxRequestBytes);
  const admin = (handler: (ctx: Context) => Promise<FacePassResult>) =>
    facepassRoute(deps.auth, 'admin', deps.logger, handler);

  router.post('/api/face/v1/add', admin(async (ctx) => {
    // No multipart body at all (empty, JSON, a form): the image is missing.
    if (!ctx.is('multipart/form-data')) throw missingArgument('image');
    const form = await readMultipart(ctx.req, deps.config.maxRequestBytes).catch((err: unknown) => {
      // The only large part of a face add is its image: the spec's image-size error (HTTP 400).
      if (isFaceError(err) && err.code === ErrorCode.RequestTooLarge) {
        throw new FaceError(ErrorCode.ImageFileTooLarge, err.message, { limit: err.details.limit }, { cause: err });
      }
      throw err;
    });
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
    // Addition (README): the groups the face is bound to.
    const groups = await deps.library.groupsOfFace(library, args.face_token);
    return { image_id: face.imageId, rect: face.rect, groups };
  }));

  // Addition (README; the spec names /face/list but gives no page): live
  // face tokens in token order, ?limit (1-1000, default 100) after ?after.
  router.get('/api/face/v1/list', admin(async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const limit = optionalArg(query, 'limit', pageLimit(FACE_PAGE_MAX)) ?? FACE_PAGE_DEFAULT;
    const after = optionalArg(query, 'after', faceToken);
    const page = await deps.library.listFaces(library, { after, limit: limit + 1 });
    const faces = page.slice(0, limit);
    return { faces, ...(page.length > limit ? { next: faces[faces.length - 1] } : {}) };
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
    const { tokens, tokenDigest } = await deps.library.groupContents(library, args.group_name);
    // token_digest is an addition (README, PROTOCOL.md §10): what a terminal's copy must add up to.
    return { group_name: args.group_name, faces: tokens, token_digest: tokenDigest };
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
    detail: await deps.version.detail(),
  })));

  return router;
}
