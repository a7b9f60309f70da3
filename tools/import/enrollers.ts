// How one photo is enrolled, per API dialect. Both go through the server's
// own HTTP API (so the tool works against a remote server):
// - facepass: face/add, then group/bind. FacePass binds carry no user
//   fields, so user_id/user_info stay in the report only. A photo added but
//   not bound can be resumed by binding its token.
// - baidu: face/add of the private Baidu API (/face-api/v3/face/add) with
//   group_id, user_id and user_info, which the server keeps with the face
//   (and terminals receive). It creates the group itself; the face token is
//   derived from the bytes, so adding a photo again is harmless.
import { basename } from 'node:path';
import type { HttpJson } from './http-json.js';
import type { PhotoEntry } from './sources.js';

export type Outcome =
  | { kind: 'enrolled'; faceToken?: string; imageId?: string; message?: string }
  | { kind: 'refused'; code: number; message: string; reasons: string[]; imageId?: string }
  | { kind: 'failed'; code?: number; message: string; faceToken?: string; imageId?: string; bound?: false };

export interface Enroller {
  /** Once per import: make sure the group exists. */
  prepare(group: string): Promise<void>;
  enrol(entry: PhotoEntry, bytes: Uint8Array, group: string): Promise<Outcome>;
  /** Finishes a photo an earlier run added but did not bind (FacePass only). */
  bindOnly?(group: string, faceToken: string, imageId?: string): Promise<Outcome>;
}

export class ImportAborted extends Error {
  override name = 'ImportAborted';
}

const KEY_REFUSED = 'the server refused the key (HTTP 401): an admin key is needed';

// ---- FacePass ------------------------------------------------------------

const FACE_NOT_FOUND = 104200;
const BAD_QUALITY = 104201;
const GROUP_NAME_CONFLICT = 104300;
/** Image errors (1041xx), no face and bad quality are answers about the photo: the same bytes get the same answer. */
const facepassRefusal = (code: number) => code === FACE_NOT_FOUND || code === BAD_QUALITY || (code >= 104100 && code < 104200);

interface FacePassAnswer {
  code?: number;
  message?: string;
  data?: { face_token?: string; image_id?: string };
}

export class FacePassEnroller implements Enroller {
  constructor(private readonly http: HttpJson) {}

  async prepare(group: string): Promise<void> {
    const { status, body } = await this.http.post<FacePassAnswer>('/api/group/v1/create', JSON.stringify({ group_name: group }));
    if (status === 401) throw new ImportAborted(KEY_REFUSED);
    if (body.code !== 0 && body.code !== GROUP_NAME_CONFLICT) throw new ImportAborted(`cannot create group ${group}: ${body.message}`);
  }

  async enrol(entry: PhotoEntry, bytes: Uint8Array, group: string): Promise<Outcome> {
    const form = () => {
      const data = new FormData();
      data.append('image', new Blob([bytes], { type: /\.png$/i.test(entry.path) ? 'image/png' : 'image/jpeg' }), basename(entry.path));
      return data;
    };
    const { status, body } = await this.http.post<FacePassAnswer>('/api/face/v1/add', form);
    if (status === 401) throw new ImportAborted(KEY_REFUSED);
    const code = body.code ?? -1;
    const message = body.message ?? '';
    const imageId = body.data?.image_id;
    if (code === 0 && body.data?.face_token) return this.bindOnly(group, body.data.face_token, imageId);
    if (facepassRefusal(code)) {
      const reasons = code === BAD_QUALITY ? message.replace(/^BAD_QUALITY:\s*/, '').split(',').filter(Boolean) : [message.split(':')[0]!];
      return { kind: 'refused', code, message, reasons, ...(imageId ? { imageId } : {}) };
    }
    return { kind: 'failed', code, message };
  }

  async bindOnly(group: string, faceToken: string, imageId?: string): Promise<Outcome> {
    const ids = { faceToken, ...(imageId ? { imageId } : {}) };
    const { status, body } = await this.http.post<FacePassAnswer>('/api/group/v1/bind', JSON.stringify({ group_name: group, face_token: faceToken }));
    if (status === 401) throw new ImportAborted(KEY_REFUSED);
    if (body.code === 0) return { kind: 'enrolled', ...ids };
    return { kind: 'failed', code: body.code ?? -1, message: body.message ?? '', ...ids, bound: false };
  }
}

// ---- Baidu (private API) ------------------------------------------------

/** Answers about the photo or its user fields (pic not has face, image check, quality, liveness, bad user_id/user_info/image). */
const BAIDU_REFUSALS = new Set([222202, 222203, 222013, 222018, 222010, 223114, 223115, 223116, 223118, 223120, 222210]);
const FACE_ALREADY_IN_GROUP = 223105;
const NO_PERMISSION = 6;

interface BaiduAnswer {
  error_code?: number;
  error_msg?: string;
  result?: { face_token?: string } | null;
}

export class BaiduEnroller implements Enroller {
  constructor(
    private readonly http: HttpJson,
    /** The Baidu appid (face library); undefined = the default library terminals sync. */
    private readonly appid?: string,
  ) {}

  private path(operation: string): string {
    return `/face-api/v3/${operation}${this.appid ? `?appid=${encodeURIComponent(this.appid)}` : ''}`;
  }

  async prepare(): Promise<void> {
    // face/add creates the group; only the key is checked here, so a wrong one stops the import at once.
    const { status, body } = await this.http.post<BaiduAnswer>(this.path('group/list'), JSON.stringify({ start: 0, length: 1 }));
    if (status === 401 || body.error_code === NO_PERMISSION) throw new ImportAborted(KEY_REFUSED);
  }

  async enrol(entry: PhotoEntry, bytes: Uint8Array, group: string): Promise<Outcome> {
    const payload = JSON.stringify({
      image: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      image_type: 'BASE64',
      group_id: group,
      user_id: entry.userId,
      ...(entry.userInfo ? { user_info: entry.userInfo } : {}),
    });
    const { status, body } = await this.http.post<BaiduAnswer>(this.path('face/add'), payload);
    if (status === 401 || body.error_code === NO_PERMISSION) throw new ImportAborted(KEY_REFUSED);
    const code = body.error_code ?? -1;
    const message = body.error_msg ?? '';
    if (code === 0 && body.result?.face_token) return { kind: 'enrolled', faceToken: body.result.face_token };
    if (code === FACE_ALREADY_IN_GROUP) return { kind: 'enrolled', message: 'already in the group' };
    if (BAIDU_REFUSALS.has(code)) return { kind: 'refused', code, message, reasons: [message] };
    return { kind: 'failed', code, message };
  }
}
