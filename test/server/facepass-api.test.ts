import { expect } from 'chai';
import sharp from 'sharp';
import { randomBytes } from 'node:crypto';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { DEFAULT_LIBRARY, type GroupName } from '../../server/core/ids.js';
import { faceCropRegion } from '../../server/core/geometry.js';
import { digestOf, digestToHex } from '../../device-protocol/index.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { readPersonPhoto, readScene } from '../helpers/paths.js';
import { enrollablePhoto, WHITE } from '../helpers/photos.js';
import { startTestServer, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const TOKEN = /^[A-Za-z0-9=_-]{24}$/;

describe('FacePass admin API', function () {
  let engine: FaceEngine;
  let ts: TestServer;
  let client: FacePassClient;
  const tokens: string[] = [];
  let firstImageId = '';
  let firstRect: Record<string, number> = {};
  let firstPhoto: Buffer;

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    client = new FacePassClient(ts.url);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  describe('GET /api/version/v1', function () {
    it('reports the server version and the model versions without a key', async function () {
      const res = await new FacePassClient(ts.url, null).get<{ version: string; detail: Record<string, string> }>('/api/version/v1');
      expect(res.status).to.equal(200);
      expect(res.code).to.equal(0);
      expect(res.message).to.equal('');
      expect(res.data.version).to.match(/^v\d+\.\d+\.\d+$/);
      expect(res.data.detail.feature).to.equal(engine.searchModel);
      expect(res.timestamp).to.be.a('number').within(Date.now() - 60_000, Date.now());
      expect(res.timecost).to.be.a('number').at.least(0);
    });
  });

  describe('access control', function () {
    it('answers 401 in the envelope without a key, with a wrong key, and with the device key', async function () {
      for (const key of [null, 'wrong-key-wrong-key-wrong', TEST_DEVICE_KEY]) {
        const res = await new FacePassClient(ts.url, key).get('/api/group/v1/list');
        expect(res.status, String(key)).to.equal(401);
        expect(res.code).to.equal(401);
        expect(res.data).to.deep.equal({});
      }
    });

    it('accepts the admin key as X-Api-Key', async function () {
      const response = await fetch(ts.url + '/api/group/v1/list', { headers: { 'x-api-key': ts.server.keys.admin } });
      expect(response.status).to.equal(200);
    });
  });

  describe('POST /api/face/v1/add', function () {
    it('enrols the largest face (case A): face_token, image_id and an integer rect', async function () {
      firstPhoto = await enrollablePhoto('amy', 2);
      const res = await client.addFace(firstPhoto);
      expect(res.code, res.message).to.equal(0);
      expect(res.data.face_token).to.match(TOKEN);
      expect(res.data.image_id).to.match(TOKEN);
      const rect = res.data.rect!;
      expect(Object.keys(rect).sort()).to.deep.equal(['bottom', 'left', 'right', 'top']);
      for (const value of Object.values(rect)) expect(Number.isInteger(value)).to.equal(true);
      expect(rect.right! - rect.left!).to.be.at.least(100);
      tokens.push(res.data.face_token!);
      firstImageId = res.data.image_id!;
      firstRect = rect;
    });

    it('enrols more people for the group tests', async function () {
      for (const [person, n] of [['howard', 4], ['leonard', 2], ['penny', 2], ['sheldon', 1]] as const) {
        const res = await client.addFace(await enrollablePhoto(person, n));
        expect(res.code, `${person}: ${res.message}`).to.equal(0);
        tokens.push(res.data.face_token!);
      }
    });

    it('accepts JPEG too', async function () {
      const jpeg = await sharp(await enrollablePhoto('raj', 4)).jpeg().toBuffer();
      const res = await client.addFace(jpeg, 'raj.jpg', 'image/jpeg');
      expect(res.code, res.message).to.equal(0);
    });

    it('reports FACE_NOT_FOUND (case C) with an image_id and no rect, and keeps the image', async function () {
      const res = await client.addFace(readScene('blank-white.png'));
      expect(res.status).to.equal(400);
      expect(res.code).to.equal(104200);
      expect(res.message).to.equal('FACE_NOT_FOUND');
      expect(res.data.image_id).to.match(TOKEN);
      expect(res.data).to.not.have.property('rect');
      expect(res.data).to.not.have.property('face_token');
      const image = await client.getRaw(`/api/image/v1/query?image_id=${encodeURIComponent(res.data.image_id!)}`);
      expect(image.status).to.equal(200);
      expect(Buffer.from(await image.arrayBuffer()).equals(readScene('blank-white.png'))).to.equal(true);
    });

    it('reports BAD_QUALITY: FaceMin (case B) for a face under 100 px, with image_id and rect', async function () {
      const tiny = await sharp(readPersonPhoto('amy', 2)).resize(80, 80).toBuffer();
      const small = await sharp(tiny).extend({ top: 110, bottom: 110, left: 110, right: 110, background: WHITE }).png().toBuffer();
      const res = await client.addFace(small);
      expect(res.status).to.equal(400);
      expect(res.code).to.equal(104201);
      expect(res.message).to.match(/^BAD_QUALITY: .*FaceMin/);
      expect(res.data.image_id).to.match(TOKEN);
      expect(res.data.rect).to.have.all.keys('left', 'top', 'right', 'bottom');
      expect(res.data).to.not.have.property('face_token');
    });

    it('reports BAD_QUALITY naming Blurriness for a blurred face', async function () {
      const blurred = await sharp(await enrollablePhoto('amy', 2)).blur(6).png().toBuffer();
      const res = await client.addFace(blurred);
      expect(res.code).to.equal(104201);
      expect(res.message).to.match(/^BAD_QUALITY: .*Blurriness/);
    });

    it('reports BAD_QUALITY naming Brightness for a dark face', async function () {
      const dark = await sharp(await enrollablePhoto('amy', 2)).linear(0.25, 0).png().toBuffer();
      const res = await client.addFace(dark);
      expect(res.code).to.equal(104201);
      expect(res.message).to.match(/^BAD_QUALITY: .*Brightness/);
    });

    it('rejects GIF, corrupt, truncated and empty files with UNSUPPORTED_IMAGE_FORMAT', async function () {
      const gif = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#888' } }).gif().toBuffer();
      const png = await enrollablePhoto('amy', 2);
      const inputs: Record<string, Buffer> = {
        gif,
        corrupt: randomBytes(5000),
        truncated: png.subarray(0, Math.floor(png.length / 2)),
        empty: Buffer.alloc(0),
      };
      for (const [name, bytes] of Object.entries(inputs)) {
        const res = await client.addFace(bytes);
        expect(res.status, name).to.equal(400);
        expect(res.code, name).to.equal(104100);
        expect(res.message).to.equal('UNSUPPORTED_IMAGE_FORMAT');
        if (name === 'empty') {
          // Nothing to keep, so no image_id (README).
          expect(res.data).to.deep.equal({});
          continue;
        }
        // Spec: image_id whatever the outcome; the upload comes back byte for byte.
        expect(Object.keys(res.data), name).to.deep.equal(['image_id']);
        const kept = await client.getRaw(`/api/image/v1/query?image_id=${encodeURIComponent(res.data.image_id!)}`);
        expect(kept.status).to.equal(200);
        const mime = { gif: 'image/gif', truncated: 'image/png' }[name] ?? 'application/octet-stream';
        expect(kept.headers.get('content-type'), name).to.equal(mime);
        expect(kept.headers.get('x-content-type-options')).to.equal('nosniff');
        expect(Buffer.from(await kept.arrayBuffer()).equals(bytes), name).to.equal(true);
      }
    });

    it('rejects an image under 100x100 with INVALID_IMAGE_RESOLUTION and keeps it', async function () {
      for (const [width, height] of [[99, 400], [400, 99], [60, 60]]) {
        const small = await sharp(readPersonPhoto('amy', 2)).resize(width, height, { fit: 'fill' }).png().toBuffer();
        const res = await client.addFace(small);
        expect(res.status, `${width}x${height}`).to.equal(400);
        expect(res.code).to.equal(104101);
        expect(res.message).to.equal('INVALID_IMAGE_RESOLUTION');
        expect(res.data.image_id).to.match(TOKEN);
      }
      const exact = await sharp(readPersonPhoto('amy', 2)).resize(100, 100).png().toBuffer();
      expect((await client.addFace(exact)).code, '100x100 is allowed').to.not.equal(104101);
    });

    it('rejects more than 4096*4096 pixels with INVALID_IMAGE_RESOLUTION', async function () {
      const huge = await sharp({ create: { width: 5000, height: 4000, channels: 3, background: '#888' } }).png().toBuffer();
      const res = await client.addFace(huge);
      expect(res.code).to.equal(104101);
      expect(res.message).to.equal('INVALID_IMAGE_RESOLUTION');
      const kept = await client.getRaw(`/api/image/v1/query?image_id=${encodeURIComponent(res.data.image_id!)}`);
      expect(kept.headers.get('content-type')).to.equal('image/png');
    });

    it('rejects a file over 4 MB with INVALID_IMAGE_FILE_SIZE', async function () {
      const noise = await sharp(randomBytes(1300 * 1300 * 3), { raw: { width: 1300, height: 1300, channels: 3 } }).png().toBuffer();
      expect(noise.length).to.be.above(4 * 1024 * 1024);
      const res = await client.addFace(noise);
      expect(res.status).to.equal(400);
      expect(res.code).to.equal(104102);
      // Not kept: keeping it is what the limit forbids (README).
      expect(res.data).to.deep.equal({});
    });

    it('refuses a body over 8 MB before parsing it, with the spec image-size error', async function () {
      const res = await client.addFace(randomBytes(9 * 1024 * 1024));
      expect(res.status).to.equal(400);
      expect(res.code).to.equal(104102);
      expect(res.message).to.equal('INVALID_IMAGE_FILE_SIZE');
      expect(res.data).to.deep.equal({});
    });

    it('reports a missing image field, a text image field and a non-multipart body', async function () {
      const form = new FormData();
      form.append('other', 'x');
      let response = await fetch(ts.url + '/api/face/v1/add', { method: 'POST', headers: { 'x-api-key': ts.server.keys.admin }, body: form });
      let body = (await response.json()) as { code: number; message: string };
      expect(body.code).to.equal(104002);
      expect(body.message).to.equal('MISSING_ARGUMENT: image');

      const text = new FormData();
      text.append('image', 'not a file');
      response = await fetch(ts.url + '/api/face/v1/add', { method: 'POST', headers: { 'x-api-key': ts.server.keys.admin }, body: text });
      body = (await response.json()) as { code: number; message: string };
      expect(body.code).to.equal(104001);
      expect(body.message).to.equal('ILLEGAL_ARGUMENT: image');

      const json = await client.post('/api/face/v1/add', { image: 'x' });
      expect(json.code).to.equal(104002);
      expect(json.message).to.equal('MISSING_ARGUMENT: image');
      response = await fetch(ts.url + '/api/face/v1/add', { method: 'POST', headers: { 'x-api-key': ts.server.keys.admin } });
      body = (await response.json()) as { code: number; message: string };
      expect(body.message, 'empty body').to.equal('MISSING_ARGUMENT: image');
      response = await fetch(ts.url + '/api/face/v1/add', { method: 'POST', headers: { 'x-api-key': ts.server.keys.admin }, body: new URLSearchParams({ image: 'x' }) });
      body = (await response.json()) as { code: number; message: string };
      expect(body.message, 'form body').to.equal('MISSING_ARGUMENT: image');
    });
  });

  describe('POST /api/face/v1/query', function () {
    it('returns the image_id and rect of the face', async function () {
      const res = await client.post('/api/face/v1/query', { face_token: tokens[0] });
      expect(res.code).to.equal(0);
      expect(res.data).to.deep.equal({ image_id: firstImageId, rect: firstRect, groups: [] });
    });

    it('maps bad input to 104000, 104001, 104002 and 104202', async function () {
      const cases: Array<[unknown, number, string]> = [
        ['{not json', 104000, 'ILLEGAL_JSON_BODY'],
        ['[1,2]', 104000, 'ILLEGAL_JSON_BODY'],
        [{}, 104002, 'MISSING_ARGUMENT: face_token'],
        [{ face_token: 'short' }, 104001, 'ILLEGAL_ARGUMENT: face_token'],
        [{ face_token: 42 }, 104001, 'ILLEGAL_ARGUMENT: face_token'],
        [{ face_token: 'A'.repeat(24) }, 104202, 'FACE_TOKEN_NOT_EXIST'],
      ];
      for (const [body, code, message] of cases) {
        const res = await client.post('/api/face/v1/query', body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.code, JSON.stringify(body)).to.equal(code);
        expect(res.message).to.equal(message);
        expect(res.data).to.deep.equal({});
      }
    });
  });

  describe('GET /api/image/v1/query', function () {
    it('returns the original bytes for an image_id', async function () {
      const response = await client.getRaw(`/api/image/v1/query?image_id=${encodeURIComponent(firstImageId)}`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.equal('image/png');
      expect(Buffer.from(await response.arrayBuffer()).equals(firstPhoto)).to.equal(true);
    });

    it('returns the face crop for a face_token, which wins over image_id', async function () {
      const response = await client.getRaw(`/api/image/v1/query?face_token=${tokens[0]}&image_id=${encodeURIComponent(firstImageId)}`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.equal('image/png');
      const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      const expected = faceCropRegion(firstRect as never, 700, 700);
      expect(expected.width).to.be.below(700);
      expect([meta.width, meta.height]).to.deep.equal([expected.width, expected.height]);
    });

    it('reports missing and unknown identifiers', async function () {
      expect((await client.get('/api/image/v1/query')).code).to.equal(104002);
      expect((await client.get(`/api/image/v1/query?image_id=${'B'.repeat(24)}`)).code).to.equal(104001);
      expect((await client.get(`/api/image/v1/query?face_token=${'B'.repeat(24)}`)).code).to.equal(104202);
    });
  });

  describe('groups and bindings', function () {
    it('creates a group, refuses a duplicate and bad names', async function () {
      expect((await client.post('/api/group/v1/create', { group_name: 'group_a' })).code).to.equal(0);
      const dup = await client.post('/api/group/v1/create', { group_name: 'group_a' });
      expect([dup.status, dup.code, dup.message]).to.deep.equal([400, 104300, 'GROUP_NAME_CONFLICT']);
      for (const group_name of ['abc', 'a'.repeat(17), 'bad-name', 'bad name', 1234, ['grp1']]) {
        const res = await client.post('/api/group/v1/create', { group_name });
        expect([res.code, res.message], JSON.stringify(group_name)).to.deep.equal([104001, 'ILLEGAL_ARGUMENT: group_name']);
      }
      const missing = await client.post('/api/group/v1/create', {});
      expect([missing.code, missing.message]).to.deep.equal([104002, 'MISSING_ARGUMENT: group_name']);
    });

    it('lists groups and queries an empty group as []', async function () {
      expect((await client.post('/api/group/v1/create', { group_name: 'group_b' })).code).to.equal(0);
      const list = await client.get<{ groups: string[] }>('/api/group/v1/list');
      expect(list.data.groups).to.deep.equal(['group_a', 'group_b']);
      const query = await client.post('/api/group/v1/query', { group_name: 'group_b' });
      expect(query.data).to.deep.equal({ group_name: 'group_b', faces: [], token_digest: '0000000000000000' });
    });

    it('binds faces, binding again is no error and changes nothing', async function () {
      for (const token of tokens) {
        expect((await client.post('/api/group/v1/bind', { group_name: 'group_a', face_token: token })).code).to.equal(0);
      }
      const before = await ts.server.store.getGroup(DEFAULT_LIBRARY, 'group_a' as GroupName);
      expect((await client.post('/api/group/v1/bind', { group_name: 'group_a', face_token: tokens[0] })).code).to.equal(0);
      const after = await ts.server.store.getGroup(DEFAULT_LIBRARY, 'group_a' as GroupName);
      expect(after!.version).to.equal(before!.version);
      expect(after!.version).to.equal(1 + tokens.length);
      const query = await client.post<{ faces: string[]; token_digest: string }>('/api/group/v1/query', { group_name: 'group_a' });
      expect(query.data.faces).to.have.members(tokens);
      // PROTOCOL.md §10: the digest of the tokens, as 16 hex digits.
      expect(query.data.token_digest).to.equal(digestToHex(digestOf(query.data.faces)));
      expect((await client.post('/api/group/v1/bind', { group_name: 'group_b', face_token: tokens[0] })).code).to.equal(0);
    });

    it('names the groups a face is bound to in face/query (an addition)', async function () {
      const res = await client.post<{ groups: string[] }>('/api/face/v1/query', { face_token: tokens[0] });
      expect(res.data.groups).to.deep.equal(['group_a', 'group_b']);
      const other = await client.post<{ groups: string[] }>('/api/face/v1/query', { face_token: tokens[1] });
      expect(other.data.groups).to.deep.equal(['group_a']);
    });

    it('lists faces page by page (GET /api/face/v1/list, an addition)', async function () {
      type Page = { faces: string[]; next?: string };
      const all = await client.get<Page>('/api/face/v1/list?limit=1000');
      expect(all.code).to.equal(0);
      expect(all.data.faces).to.include.members(tokens);
      expect(all.data.faces).to.deep.equal([...all.data.faces].sort());
      expect(all.data).to.not.have.property('next');
      const seen: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 50; pages++) {
        const res = await client.get<Page>(`/api/face/v1/list?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        expect(res.data.faces.length).to.be.at.most(2);
        seen.push(...res.data.faces);
        if (!res.data.next) break;
        after = res.data.next;
      }
      expect(seen).to.deep.equal(all.data.faces);
      for (const bad of ['limit=0', 'limit=1001', 'limit=two', 'after=short']) {
        const res = await client.get(`/api/face/v1/list?${bad}`);
        expect([res.status, res.code], bad).to.deep.equal([400, 104001]);
      }
    });

    it('maps bind and query errors', async function () {
      const cases: Array<[string, unknown, number, string]> = [
        ['/api/group/v1/bind', { group_name: 'nogroup', face_token: tokens[0] }, 104301, 'GROUP_NAME_NOT_EXIST'],
        ['/api/group/v1/bind', { group_name: 'group_a', face_token: 'C'.repeat(24) }, 104202, 'FACE_TOKEN_NOT_EXIST'],
        ['/api/group/v1/bind', {}, 104002, 'MISSING_ARGUMENT: group_name,face_token'],
        ['/api/group/v1/bind', { group_name: 'x', face_token: 'y' }, 104001, 'ILLEGAL_ARGUMENT: group_name,face_token'],
        ['/api/group/v1/query', { group_name: 'nogroup' }, 104301, 'GROUP_NAME_NOT_EXIST'],
        ['/api/group/v1/delete', { group_name: 'nogroup' }, 104301, 'GROUP_NAME_NOT_EXIST'],
        ['/api/group/v1/unbind', { group_name: 'group_b', face_token: tokens[1] }, 104303, 'GROUP_BINDING_NOT_EXIST'],
        ['/api/group/v1/unbind', { group_name: 'nogroup', face_token: tokens[1] }, 104301, 'GROUP_NAME_NOT_EXIST'],
      ];
      for (const [path, body, code, message] of cases) {
        const res = await client.post(path, body);
        expect([res.status, res.code, res.message], `${path} ${JSON.stringify(body)}`).to.deep.equal([400, code, message]);
      }
    });

    it('unbinds, and a second unbind is GROUP_BINDING_NOT_EXIST', async function () {
      const body = { group_name: 'group_a', face_token: tokens[1] };
      expect((await client.post('/api/group/v1/unbind', body)).code).to.equal(0);
      expect((await client.post('/api/group/v1/unbind', body)).code).to.equal(104303);
      const query = await client.post<{ faces: string[] }>('/api/group/v1/query', { group_name: 'group_a' });
      expect(query.data.faces).to.not.include(tokens[1]);
    });

    it('deleting a face unbinds it everywhere and keeps its image', async function () {
      const versionA = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'group_a' as GroupName))!.version;
      const versionB = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'group_b' as GroupName))!.version;
      expect((await client.post('/api/face/v1/delete', { face_token: tokens[0] })).code).to.equal(0);
      for (const [name, version] of [['group_a', versionA], ['group_b', versionB]] as const) {
        const query = await client.post<{ faces: string[] }>('/api/group/v1/query', { group_name: name });
        expect(query.data.faces).to.not.include(tokens[0]);
        expect((await ts.server.store.getGroup(DEFAULT_LIBRARY, name as GroupName))!.version).to.equal(version + 1);
      }
      expect((await client.get<{ faces: string[] }>('/api/face/v1/list')).data.faces, 'a deleted face is not listed').to.not.include(tokens[0]);
      expect((await client.post('/api/face/v1/query', { face_token: tokens[0] })).code).to.equal(104202);
      expect((await client.post('/api/face/v1/delete', { face_token: tokens[0] })).code).to.equal(104202);
      const image = await client.getRaw(`/api/image/v1/query?image_id=${encodeURIComponent(firstImageId)}`);
      expect(image.status).to.equal(200);
    });

    it('deletes a group; re-creating the name continues its version with a new group_id', async function () {
      const old = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'group_b' as GroupName))!;
      expect((await client.post('/api/group/v1/delete', { group_name: 'group_b' })).code).to.equal(0);
      expect((await client.post('/api/group/v1/delete', { group_name: 'group_b' })).code).to.equal(104301);
      expect((await client.get<{ groups: string[] }>('/api/group/v1/list')).data.groups).to.deep.equal(['group_a']);
      expect((await client.post('/api/group/v1/create', { group_name: 'group_b' })).code).to.equal(0);
      const renewed = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'group_b' as GroupName))!;
      expect(renewed.groupId).to.not.equal(old.groupId);
      expect(renewed.version).to.equal(old.version + 2);
    });
  });

  describe('unknown paths and methods', function () {
    it('answers 404 for an unknown path and 405 for a wrong method', async function () {
      const missing = await client.get('/api/nothing/v1');
      expect(missing.status).to.equal(404);
      expect(missing.data).to.deep.equal({});
      const wrong = await fetch(ts.url + '/api/group/v1/create', { headers: { 'x-api-key': ts.server.keys.admin } });
      expect(wrong.status).to.equal(405);
    });
  });

  describe('persistence', function () {
    it('keeps groups, bindings, faces and images across a restart', async function () {
      const before = await client.post<{ faces: string[] }>('/api/group/v1/query', { group_name: 'group_a' });
      await ts.restart();
      client = new FacePassClient(ts.url);
      const after = await client.post<{ faces: string[] }>('/api/group/v1/query', { group_name: 'group_a' });
      expect(after.data.faces).to.deep.equal(before.data.faces);
      expect((await client.get<{ groups: string[] }>('/api/group/v1/list')).data.groups).to.deep.equal(['group_a', 'group_b']);
      expect((await client.post('/api/face/v1/query', { face_token: tokens[2] })).code).to.equal(0);
      const image = await client.getRaw(`/api/image/v1/query?image_id=${encodeURIComponent(firstImageId)}`);
      expect(Buffer.from(await image.arrayBuffer()).equals(firstPhoto)).to.equal(true);
    });
  });
});
