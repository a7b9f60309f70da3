// The cheapest WebSocket client Node can run, for tools/push-crowd.ts: a
// net.Socket reading through `onread` into one buffer shared by every client
// of the process (no stream machinery, no allocation per read), a hand-rolled
// parser for the server's unmasked frames, and the HTTP upgrade done by hand.
// The crowd runs 1,000 terminals in one process on a machine whose other
// core runs the server: with `ws` clients the crowd's own per-message cost
// (stream pushes, Receiver, events) delayed the later terminals' receipt by
// milliseconds, which the bench then charged to the server. Only what the
// crowd needs: binary messages, ping -> pong, close; no fragments, no
// extensions. Not a general client.
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface RawClientHandlers {
  /** Upgrade accepted (101, key checked). */
  open(): void;
  /**
   * One binary message: bytes [start, end) of `buf`, which may be the shared
   * read buffer (valid only during the call). `at` is when its bytes were read.
   * No Buffer per message: a subarray costs more than the rest of a read here.
   */
  message(buf: Buffer, start: number, end: number, at: number): void;
  /** The upgrade was refused, the socket failed, or a close frame arrived (its code, else 1006). */
  close(code: number, reason: string): void;
}

/** A frame from client to server: masked (RFC 6455 §5.3). */
export function maskedFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, headerLength);
  for (let k = 0; k < length; k++) frame[headerLength + 4 + k] = payload[k]! ^ mask[k & 3]!;
  return frame;
}

export class RawWsClient {
  readonly #socket: Socket;
  readonly #handlers: RawClientHandlers;
  readonly #key = randomBytes(16).toString('base64');
  #upgraded = false;
  #closed = false;
  /** Bytes of an incomplete response head or frame, copied out of the shared buffer (rare: frames are tiny). */
  #rest: Buffer | null = null;

  /** `readBuffer` is shared by all clients of the process: each read is consumed before the callback returns. */
  constructor(host: string, port: number, path: string, headers: Record<string, string>, readBuffer: Buffer, handlers: RawClientHandlers, now: () => number) {
    this.#handlers = handlers;
    this.#socket = netConnect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n) => {
          const at = now();
          this.#onBytes(readBuffer, n, at);
          return true;
        },
      },
    });
    const lines = [
      `GET ${path} HTTP/1.1`, `Host: ${host}:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${this.#key}`, 'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    this.#socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    this.#socket.on('error', (err) => this.#end(1006, err.message));
    this.#socket.on('close', () => this.#end(1006, 'socket closed'));
  }

  sendBinary(payload: Uint8Array): void {
    if (!this.#closed) this.#socket.write(maskedFrame(OP_BINARY, payload));
  }

  terminate(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #end(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#handlers.close(code, reason);
  }

  /** Bytes [0, n) of `chunk` were read at `at`. */
  #onBytes(chunk: Buffer, n: number, at: number): void {
    let data = chunk;
    let length = n;
    if (this.#rest !== null) {
      data = Buffer.concat([this.#rest, chunk.subarray(0, n)]);
      length = data.length;
      this.#rest = null;
    }
    let offset = 0;
    if (!this.#upgraded) {
      const headEnd = data.subarray(0, length).indexOf('\r\n\r\n');
      if (headEnd < 0) {
        this.#rest = Buffer.from(data.subarray(0, length));
        return;
      }
      const head = data.toString('latin1', 0, headEnd);
      const accept = createHash('sha1').update(this.#key + WS_GUID).digest('base64');
      if (!/^HTTP\/1\.1 101 /.test(head)) return this.#end(1006, `push upgrade: ${head.split('\r\n')[0]}`);
      if (!new RegExp(`^sec-websocket-accept: *${accept.replace(/[+/=]/g, '\\$&')} *$`, 'im').test(head)) {
        return this.#end(1006, 'push upgrade: wrong Sec-WebSocket-Accept');
      }
      this.#upgraded = true;
      offset = headEnd + 4;
      this.#handlers.open();
    }
    while (offset < length && !this.#closed) {
      if (length - offset < 2) break;
      const b0 = data[offset]!;
      const b1 = data[offset + 1]!;
      let size = b1 & 0x7f;
      let header = 2;
      if (size === 126) {
        if (length - offset < 4) break;
        size = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (size === 127) {
        if (length - offset < 10) break;
        size = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (length - offset < header + size) break;
      if ((b1 & 0x80) !== 0 || (b0 & 0x80) === 0) return this.#end(1002, 'masked or fragmented frame from the server');
      const start = offset + header;
      offset = start + size;
      const opcode = b0 & 0x0f;
      if (opcode === OP_BINARY) this.#handlers.message(data, start, offset, at);
      else if (opcode === OP_PING) this.#socket.write(maskedFrame(OP_PONG, data.subarray(start, offset)));
      else if (opcode === OP_CLOSE) {
        const code = size >= 2 ? data.readUInt16BE(start) : 1005;
        return this.#end(code, data.toString('utf8', start + 2, offset));
      }
    }
    if (offset < length && !this.#closed) this.#rest = Buffer.from(data.subarray(offset, length));
  }
}
