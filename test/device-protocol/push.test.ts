import { expect } from 'chai';
import type WebSocket from 'ws';
import {
  closeCodeFor,
  CloseCode,
  decodePushFrame,
  encodePushFrame,
  MAX_PUSH_FRAME_BYTES,
  PushFrameType,
  SyncError,
  SyncErrorCode,
  type PushMessage,
  type WebSocketLike,
} from '../../device-protocol/index.js';
import { fromHex, hex } from './helpers.js';

// The push examples of PROTOCOL.md, byte for byte.
const GOLDEN: Array<[string, PushMessage]> = [
  [
    '0a17 0801 1206646f6f722d31 1a0b 0a057374616666 100c 1803',
    { type: PushFrameType.ClientHello, hello: { protocolVersion: 1, deviceId: 'door-1', groups: [{ groupName: 'staff', groupId: 12, version: 3 }] } },
  ],
  [
    '121c 0801 120431303137 1880d095ffbc31 220b 0a057374616666 100c 1804',
    {
      type: PushFrameType.ServerHello,
      hello: { protocolVersion: 1, searchModel: '1017', serverTimeMs: 1_700_000_000_000, groups: [{ groupName: 'staff', groupId: 12, version: 4 }] },
    },
  ],
  ['1a0d 0a0b 0a057374616666 100c 1805', { type: PushFrameType.Notice, groups: [{ groupName: 'staff', groupId: 12, version: 5 }] }],
  ['2215 08b822 121070726f746f636f6c2076657273696f6e', { type: PushFrameType.Error, code: 4408, reason: 'protocol version' }],
];

describe('push frames', () => {
  it('encodes and decodes the golden messages', () => {
    for (const [bytes, message] of GOLDEN) {
      expect(hex(encodePushFrame(message))).to.equal(bytes.replace(/\s+/g, ''));
      expect(decodePushFrame(fromHex(bytes))).to.deep.equal(message);
    }
  });

  it('checks the size before decoding', () => {
    expect(() => decodePushFrame(new Uint8Array(MAX_PUSH_FRAME_BYTES + 1)))
      .to.throw().with.property('code', SyncErrorCode.FrameTooLarge);
  });

  it('rejects unknown critical types and ignores ancillary ones', () => {
    expect(() => decodePushFrame(fromHex('2a00'))).to.throw().with.property('code', SyncErrorCode.UnknownFrame);
    expect(decodePushFrame(fromHex('820400'))).to.equal(null);
    expect(() => decodePushFrame(new Uint8Array(0))).to.throw().with.property('code', SyncErrorCode.BadFrame);
  });

  it('maps failures to close codes', () => {
    const err = (code: (typeof SyncErrorCode)[keyof typeof SyncErrorCode]) => new SyncError(code, 'x');
    expect(closeCodeFor(err(SyncErrorCode.FrameTooLarge))).to.equal(CloseCode.FrameTooLarge);
    expect(closeCodeFor(err(SyncErrorCode.ProtocolVersion))).to.equal(CloseCode.ProtocolVersionUnsupported);
    expect(closeCodeFor(err(SyncErrorCode.BadFrame))).to.equal(CloseCode.BadFrame);
    expect(closeCodeFor(err(SyncErrorCode.UnknownFrame))).to.equal(CloseCode.BadFrame);
    expect(closeCodeFor(new Error('boom'))).to.equal(CloseCode.InternalError);
  });

  it('has a WebSocketLike that the ws library\'s WebSocket satisfies', () => {
    // Compile-time check: TerminalClient's createWebSocket may return a `ws` WebSocket as is.
    const accept = (socket: WebSocket): WebSocketLike => socket;
    expect(accept).to.be.a('function');
  });
});
