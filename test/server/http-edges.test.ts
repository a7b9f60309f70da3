// What the server answers outside the happy path, on a real server: wrong
// methods (405 in the envelope with Allow, also OPTIONS, TRACE and WebDAV
// verbs), unknown paths (404, message capped), /metrics with a wrong key,
// and bodies over the limit (the client sees the answer, not a reset).
import { expect } from 'chai';
import { connect } from 'node:net';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { MAX_ECHOED_PATH } from '../../server/facepass/envelope.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../helpers/test-server.js';

const ADMIN = { 'x-api-key': TEST_ADMIN_KEY };

/** Sends the whole body before reading anything back, as a simple client does; resolves with what then arrives. */
function sendAllThenRead(port: number, head: string, body: Buffer, chunked: boolean): Promise<{ text: string; reset: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let reset = false;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      // Done once one whole answer is in (the server may keep the connection open).
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (end > 0 && length && text.length >= end + 4 + Number(length[1])) socket.end();
    });
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), reset }));
    socket.on('connect', async () => {
      socket.pause();
      socket.write(head);
      const piece = 64 * 1024;
      for (let at = 0; at < body.length && !socket.destroyed; at += piece) {
        const part = body.subarray(at, at + piece);
        const framed = chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part;
        if (!socket.write(framed)) await new Promise((r) => socket.once('drain', r));
      }
      if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      socket.resume();
      setTimeout(() => socket.destroy(), 5_000).unref();
    });
  });
}

describe('HTTP edges', function () {
  this.timeout(120_000);
  let engine: FaceEngine;
  let ts: TestServer;

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 1, warmUp: false });
    ts = await startTestServer(engine);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  describe('wrong methods', function () {
    it('answers 405 with Allow and a body that says so', async function () {
      const res = await fetch(ts.url + '/api/group/v1/create', { headers: ADMIN });
      expect(res.status).to.equal(405);
      expect(res.headers.get('allow')).to.equal('POST');
      const body = (await res.json()) as { code: number; message: string; data: object };
      expect(body.code).to.equal(405);
      expect(body.message).to.match(/^METHOD_NOT_ALLOWED: GET \/api\/group\/v1\/create/);
      expect(body.data).to.deep.equal({});
    });

    it('lists GET and HEAD for a GET path', async function () {
      const res = await fetch(ts.url + '/api/group/v1/list', { method: 'POST', headers: ADMIN });
      expect(res.status).to.equal(405);
      expect(res.headers.get('allow')).to.equal('GET, HEAD');
    });

    it('answers OPTIONS, TRACE, PROPFIND and SEARCH with 405 in the envelope, never 200 or a 5xx', async function () {
      for (const method of ['OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'PUT', 'DELETE', 'PATCH']) {
        const res = await rawRequest(ts.server.port, [`${method} /api/face/v1/add HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Api-Key: ${TEST_ADMIN_KEY}\r\n\r\n`]);
        expect(res.status, method).to.equal(405);
        expect(res.headers.allow, method).to.equal('POST');
        expect(res.headers['content-type'], method).to.match(/^application\/json/);
        expect(res.body, method).to.include('"code":405').and.to.include(`METHOD_NOT_ALLOWED: ${method}`);
      }
    });

    it('answers a wrong method on a Baidu path in the Baidu envelope, never 501', async function () {
      for (const method of ['TRACE', 'PROPFIND', 'GET']) {
        const res = await rawRequest(ts.server.port, [`${method} /rest/2.0/face/v3/detect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
        expect(res.status, method).to.be.below(500);
        expect(res.body, method).to.include('error_code');
      }
    });

    it('answers an unknown method on an unknown path with 404', async function () {
      const res = await rawRequest(ts.server.port, ['PROPFIND /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      expect(res.status).to.equal(404);
      expect(res.body).to.include('"code":404');
    });
  });

  describe('unknown paths', function () {
    it('caps the echoed path', async function () {
      const long = '/' + 'a'.repeat(6000);
      const res = await fetch(ts.url + long, { headers: ADMIN });
      expect(res.status).to.equal(404);
      const body = (await res.json()) as { message: string };
      expect(body.message.length).to.be.below(MAX_ECHOED_PATH + 50);
      expect(body.message).to.match(/^API_NOT_FOUND: GET \/a+\.\.\.$/);
    });
  });

  describe('JSON endpoints', function () {
    it('read the body as JSON whatever its Content-Type, and refuse a form body as ILLEGAL_JSON_BODY', async function () {
      for (const type of ['application/json', 'text/plain', 'application/octet-stream', '']) {
        const headers: Record<string, string> = { ...ADMIN, ...(type ? { 'content-type': type } : {}) };
        const res = await fetch(ts.url + '/api/group/v1/query', { method: 'POST', headers, body: JSON.stringify({ group_name: 'nothere' }) });
        const body = (await res.json()) as { code: number };
        expect(body.code, type || '(none)').to.equal(104301);
      }
      const form = await fetch(ts.url + '/api/group/v1/query', { method: 'POST', headers: ADMIN, body: new URLSearchParams({ group_name: 'nothere' }) });
      expect(((await form.json()) as { code: number }).code).to.equal(104000);
    });
  });

  describe('/metrics', function () {
    it('answers a wrong key in the envelope with WWW-Authenticate', async function () {
      for (const headers of [{} as Record<string, string>, { 'x-api-key': 'wrong-key-wrong-key-wrong' }]) {
        const res = await fetch(ts.url + '/metrics', { headers });
        expect(res.status).to.equal(401);
        expect(res.headers.get('www-authenticate')).to.equal('Bearer');
        const body = (await res.json()) as { code: number; message: string };
        expect(body).to.include({ code: 401, message: 'UNAUTHORIZED' });
      }
    });

    it('serves the metrics as text with the admin key', async function () {
      const res = await fetch(ts.url + '/metrics', { headers: ADMIN });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      const text = await res.text();
      expect(text).to.include('http_request_duration_seconds');
      if (process.platform === 'linux') expect(text).to.match(/^process_resident_anonymous_bytes \d+/m).and.match(/^process_resident_file_bytes \d+/m);
    });
  });

  describe('bodies over the limit', function () {
    const big = Buffer.alloc(20 * 1024 * 1024, 0x61);

    it('lets a client that sends everything first read the 413 of a JSON endpoint (chunked and with Content-Length)', async function () {
      for (const chunked of [true, false]) {
        const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${big.length}`;
        const head = `POST /api/group/v1/create HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${TEST_ADMIN_KEY}\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;
        const res = await sendAllThenRead(ts.server.port, head, big, chunked);
        expect(res.text, `chunked=${chunked}`).to.match(/^HTTP\/1\.1 413 /);
        expect(res.text).to.include('"code":413').and.to.include('REQUEST_TOO_LARGE');
        expect(res.reset, `chunked=${chunked}`).to.equal(false);
      }
    });

    it('answers an oversized face/add with the spec image-size error (HTTP 400, 104102)', async function () {
      const part = '--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n';
      const head = `POST /api/face/v1/add HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${TEST_ADMIN_KEY}\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const res = await sendAllThenRead(ts.server.port, head, Buffer.concat([Buffer.from(part), big]), true);
      expect(res.text).to.match(/^HTTP\/1\.1 400 /);
      expect(res.text).to.include('"code":104102').and.to.include('INVALID_IMAGE_FILE_SIZE');
      expect(res.reset).to.equal(false);
    });

    it('keeps the connection usable after a refused body it drained', async function () {
      const refused = `POST /api/group/v1/create HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${TEST_ADMIN_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const body = Buffer.alloc(9 * 1024 * 1024, 0x20);
      const next = `GET /api/version/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
      const res = await rawRequest(ts.server.port, [refused, `${body.length.toString(16)}\r\n`, body, '\r\n0\r\n\r\n', next], { gapMs: 50 });
      expect(res.text).to.match(/^HTTP\/1\.1 413 /);
      expect(res.text).to.include('"version":"v');
    });
  });
});
