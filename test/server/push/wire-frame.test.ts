// frameBinary against ws itself: the bytes a raw TCP peer reads after
// `ws.send(payload, { binary: true })` must be exactly frameBinary(payload),
// at every length class of the frame header (7-bit, 16-bit, 64-bit lengths).
import { expect } from 'chai';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { useLoopbackWss } from '../../helpers/loopback-wss.js';
import { encodePushFrame, PushFrameType } from '../../../device-protocol/index.js';
import { frameBinary } from '../../../server/push/wire-frame.js';

/** Connects a raw TCP peer to `port`, does the upgrade by hand, and resolves with the socket and the bytes after the response head. */
async function rawPeer(port: number): Promise<{ socket: Socket; bytes: () => Buffer; waitFor: (n: number) => Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    wake?.();
  });
  const body = () => {
    const end = received.indexOf('\r\n\r\n');
    return end < 0 ? Buffer.alloc(0) : received.subarray(end + 4);
  };
  const waitFor = async (n: number) => {
    while (body().length < n) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { socket, bytes: body, waitFor };
}

describe('push wire frames', function () {
  const loopback = useLoopbackWss();

  it('frameBinary(payload) is byte for byte what ws.send(payload, { binary: true }) writes', async function () {
    const notice = encodePushFrame({ type: PushFrameType.Notice, groups: [{ groupName: 'door_a', groupId: 7, version: 123456 }] });
    const payloads = [notice, new Uint8Array(0), randomBytes(125), randomBytes(126), randomBytes(65535), randomBytes(65536), randomBytes(70000)];
    const accepted = once(loopback.server, 'connection') as Promise<[WebSocket]>;
    const peer = await rawPeer(loopback.port);
    const [ws] = await accepted;
    let expected = Buffer.alloc(0);
    for (const payload of payloads) {
      ws.send(payload, { binary: true });
      expected = Buffer.concat([expected, frameBinary(payload)]);
    }
    await peer.waitFor(expected.length);
    expect(peer.bytes().equals(expected)).to.equal(true);
    expect(frameBinary(notice).subarray(0, 2)).to.deep.equal(Buffer.from([0x82, notice.length]));
    peer.socket.destroy();
  });

  it('frames a view of a larger buffer by its own bytes only', function () {
    const backing = Buffer.from([9, 9, 1, 2, 3, 9]);
    expect([...frameBinary(backing.subarray(2, 5))]).to.deep.equal([0x82, 3, 1, 2, 3]);
  });
});
