// The bench crowd's raw client (tools/raw-ws-client.ts) against ws itself:
// what it hands over must be exactly the messages ws sent, whatever the
// read boundaries; it must answer pings (or the hub's heartbeat drops it)
// and report the close code. The receipt times of bench:sync rest on it.
import { expect } from 'chai';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { useLoopbackWss } from '../helpers/loopback-wss.js';
import { RawWsClient } from '../../tools/raw-ws-client.js';

describe('tools/raw-ws-client', function () {
  const loopback = useLoopbackWss();

  it('receives ws messages of every header length intact, echoes to the server, answers pings and reports the close code', async function () {
    const accepted = once(loopback.server, 'connection') as Promise<[WebSocket, { headers: Record<string, string> }]>;
    const received: Buffer[] = [];
    let closed: (v: [number, string]) => void = () => {};
    const closedP = new Promise<[number, string]>((resolve) => (closed = resolve));
    let opened: () => void = () => {};
    const openedP = new Promise<void>((resolve) => (opened = resolve));
    // A small shared buffer: a 70,000-byte message arrives over many reads.
    const readBuffer = Buffer.allocUnsafe(4096);
    const client: RawWsClient = new RawWsClient('127.0.0.1', loopback.port, '/', { 'X-Test': 'yes' }, readBuffer, {
      open: () => opened(),
      message: (buf, start, end) => void received.push(Buffer.from(buf.subarray(start, end))),
      close: (code, reason) => closed([code, reason]),
    }, () => performance.now());
    const [ws, req] = await accepted;
    await openedP;
    expect(req.headers['x-test']).to.equal('yes');

    const echoed = once(ws, 'message') as Promise<[Buffer]>;
    client.sendBinary(Buffer.from([1, 2, 3]));
    expect([...(await echoed)[0]]).to.deep.equal([1, 2, 3]);

    const pong = once(ws, 'pong') as Promise<[Buffer]>;
    ws.ping(Buffer.from('hb'));
    expect((await pong)[0].toString()).to.equal('hb');

    const payloads = [Buffer.alloc(0), randomBytes(20), randomBytes(125), randomBytes(126), randomBytes(65536), randomBytes(70000)];
    for (const p of payloads) ws.send(p, { binary: true });
    ws.close(4401, 'bye');
    expect(await closedP).to.deep.equal([4401, 'bye']);
    expect(received.map((b) => b.toString('hex'))).to.deep.equal(payloads.map((b) => b.toString('hex')));
  });

  it('reports a refused upgrade', async function () {
    const refusing = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: () => false });
    await once(refusing, 'listening');
    const code = await new Promise<[number, string]>((resolve) => {
      new RawWsClient('127.0.0.1', (refusing.address() as AddressInfo).port, '/', {}, Buffer.allocUnsafe(4096), {
        open: () => expect.fail('not upgraded'),
        message: () => expect.fail('no message'),
        close: (c, reason) => resolve([c, reason]),
      }, () => 0);
    });
    expect(code[0]).to.equal(1006);
    expect(code[1]).to.match(/HTTP\/1\.1 401/);
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
  });
});
