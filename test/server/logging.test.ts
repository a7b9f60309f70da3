// Nothing that can hold a key reaches the log: the error serializer and the
// redaction on their own, then the log of a fuzzing run (malformed HTTP with
// the keys in its headers, hostile push upgrades) grepped for the keys.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { PUSH_PATH } from '../../device-protocol/index.js';
import { FaceServer } from '../../server/app.js';
import { createLogger, isClientFault, serializeError } from '../../server/logging.js';
import { rawRequest } from '../helpers/raw-http.js';
import { testConfig, TEST_ADMIN_KEY, TEST_DEVICE_KEY } from '../helpers/test-server.js';

/** Every form a key could take in a JSON log line: text, base64, and the byte list of a serialized Buffer. */
function keyForms(key: string): string[] {
  const bytes = [...Buffer.from(key, 'latin1')];
  return [key, Buffer.from(key).toString('base64'), bytes.slice(0, 8).join(',')];
}

function memoryLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } });
  return { lines, logger };
}

describe('logging', function () {
  describe('serializeError', function () {
    it('drops raw packets, headers and bodies, also from causes', function () {
      const inner = Object.assign(new Error('parse'), { code: 'HPE_STRICT', rawPacket: Buffer.from(`X-Api-Key: ${TEST_ADMIN_KEY}`) });
      const outer = Object.assign(new Error('wrapped', { cause: inner }), { headers: { 'x-api-key': TEST_ADMIN_KEY }, body: TEST_ADMIN_KEY, status: 400 });
      const text = JSON.stringify(serializeError(outer));
      for (const form of keyForms(TEST_ADMIN_KEY)) expect(text).not.to.include(form);
      const serialized = serializeError(outer) as Record<string, unknown>;
      expect(serialized.status).to.equal(400);
      expect((serialized.cause as Record<string, unknown>).code).to.equal('HPE_STRICT');
      expect(serialized.message).to.include('wrapped');
    });

    it('leaves what is not an error alone', function () {
      expect(serializeError('text')).to.equal('text');
    });
  });

  describe('createLogger', function () {
    it('censors credentials in any logged headers object', function () {
      const { lines, logger } = memoryLogger();
      logger.info({ req: { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-api-key': TEST_DEVICE_KEY, host: 'h' } } }, 'r');
      logger.info({ headers: { 'x-api-key': TEST_DEVICE_KEY } }, 'h');
      expect(lines).to.have.length(2);
      for (const line of lines) for (const form of [...keyForms(TEST_ADMIN_KEY), ...keyForms(TEST_DEVICE_KEY)]) expect(line).not.to.include(form);
      expect(lines[0]).to.include('[redacted]').and.to.include('"host":"h"');
    });
  });

  describe('isClientFault', function () {
    it('names parser errors and resets, not server failures', function () {
      expect(isClientFault({ code: 'HPE_INVALID_CHUNK_SIZE' })).to.equal(true);
      expect(isClientFault({ code: 'ECONNRESET' })).to.equal(true);
      expect(isClientFault(new Error('x'))).to.equal(false);
      expect(isClientFault({ code: 'ENOSPC' })).to.equal(false);
    });
  });

  describe('a fuzzing run', function () {
    this.timeout(180_000);
    let engine: FaceEngine;
    let server: FaceServer;
    let dataDir: string;
    let lines: string[];

    before(async function () {
      engine = await createOnnxEngine({ intraOpThreads: 1, warmUp: false });
      dataDir = mkdtempSync(join(tmpdir(), 'logging-test-'));
      const memory = memoryLogger();
      lines = memory.lines;
      server = await FaceServer.start({ config: testConfig(dataDir, { logLevel: 'trace' }), logger: memory.logger, engine });
    });

    after(async function () {
      await server?.close();
      await engine?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('never logs a key, whatever the request', async function () {
      const paths = ['/api/group/v1/create', '/api/face/v1/add', '/api/service/sync/v1', '/api/face/v1/query', '/nowhere', '/metrics'];
      const keys = [TEST_ADMIN_KEY, TEST_DEVICE_KEY];
      const requests: Array<Promise<unknown>> = [];
      let n = 0;
      for (const path of paths) {
        for (const key of keys) {
          const auth = n++ % 2 === 0 ? `X-Api-Key: ${key}` : `Authorization: Bearer ${key}`;
          const head = (extra: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${auth}\r\n${extra}\r\n`;
          // Bad chunked framing after the headers, in the same packet and in a later one.
          requests.push(rawRequest(server.port, [head('Transfer-Encoding: chunked\r\n') + '5\r\n{"a":1zzzz\r\n']));
          requests.push(rawRequest(server.port, [head('Transfer-Encoding: chunked\r\n'), `5\r\n{"a":1zzzz\r\n`], { gapMs: 200 }));
          // A chunk size that is not hex, a body shorter than declared, garbage JSON, a broken multipart body.
          requests.push(rawRequest(server.port, [head('Transfer-Encoding: chunked\r\n'), `zz\r\n${key}\r\n`], { gapMs: 100 }));
          requests.push(rawRequest(server.port, [head('Content-Length: 100\r\n'), key], { gapMs: 100, timeoutMs: 1000 }));
          requests.push(rawRequest(server.port, [head('Content-Type: application/json\r\nContent-Length: 10\r\n') + '{"x":\u0000\u0001]}}']));
          requests.push(rawRequest(server.port, [head('Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 30\r\n') + `--b\r\nContent-Disposition: ${key}`]));
          // A request line and headers that break the parser outright.
          requests.push(rawRequest(server.port, [`POST ${path} HTTP/1.1\r\n${auth}\r\nBad Header\r\n\r\n`]));
          requests.push(rawRequest(server.port, [`GET ${path}?key=${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${auth}\r\n\r\n`]));
        }
      }
      // Push upgrades: a wrong key, the right key then garbage, and an upgrade with bad framing.
      for (const key of keys) {
        const ws = new WebSocket(server.url.replace(/^http/, 'ws') + PUSH_PATH, { headers: { 'x-api-key': key } });
        requests.push(new Promise<void>((resolve) => {
          // A text message is refused at once (4400), with the key as its content.
          ws.on('open', () => ws.send(`hello ${key}`));
          ws.on('close', () => resolve());
          ws.on('error', () => resolve());
        }));
        requests.push(rawRequest(server.port, [`GET ${PUSH_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Api-Key: ${key}x\r\n\r\n`]));
      }
      await Promise.all(requests);
      // The run reached the code that used to log raw packets.
      expect(lines.some((line) => /client broke its request|koa error|request failed/.test(line)), 'the run logged its failures').to.equal(true);
      const leaks = lines.filter((line) => keys.some((key) => keyForms(key).some((form) => line.includes(form))));
      expect(leaks, leaks.join('\n').slice(0, 2000)).to.deep.equal([]);
    });
  });
});
