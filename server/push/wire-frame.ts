// A push message framed once as a complete WebSocket frame, to be written as
// is to many sockets. A commit sends the same notice to every terminal that
// holds the group; `ws.send()` would re-frame it per socket (a header Buffer,
// an options object, two corked writes), which for 1,000 terminals was most
// of the hub's fan-out time. Framing is ws's own public `Sender.frame()`
// (exported for exactly this, websockets/ws#1016), so the bytes are the ones
// `ws.send(payload, { binary: true })` puts on the wire (test/server/push/wire-frame.test.ts).
import * as wsModule from 'ws';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

/** @types/ws does not declare Sender; ws exports it (ESM: a named export of ws/wrapper.mjs; CommonJS: `WebSocket.Sender`). */
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;

// Fail at start-up, not at the first notice, if a ws upgrade dropped it (ws is pinned in package.json).
if (typeof Sender?.frame !== 'function') throw new Error('push: this ws version does not export Sender.frame');

/** WebSocket opcode of a binary message (RFC 6455 §5.2). */
const OPCODE_BINARY = 0x2;

/** One unfragmented, unmasked (server to client), uncompressed binary frame holding `payload`. */
export function frameBinary(payload: Uint8Array): Buffer {
  const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // mask false: Sender.frame neither copies nor modifies `data`.
  const parts = Sender.frame(data, { fin: true, opcode: OPCODE_BINARY, mask: false, readOnly: false, rsv1: false });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
