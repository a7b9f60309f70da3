// One terminal's push connection: the socket plus the little the hub needs
// to know about it. Kept small on purpose (a hub holds thousands): no timers,
// no buffers; pending notices live in the NoticeBatcher, only while pending.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { encodePushFrame, PushFrameType, type PushMessage } from '../../device-protocol/index.js';
import type { HeartbeatPeer } from './heartbeat.js';
import type { Principal } from '../http/auth.js';

/**
 * awaiting-hello: connected, no ClientHello yet (hello deadline running).
 * answering: ClientHello accepted, ServerHello being prepared; commits are
 *   already recorded for it but notices wait until the hello is out.
 * ready: ServerHello sent; notices flow.
 * closed: the socket closed; the hub has forgotten it.
 */
export type ConnectionState = 'awaiting-hello' | 'answering' | 'ready' | 'closed';

export class PushConnection implements HeartbeatPeer {
  state: ConnectionState = 'awaiting-hello';
  alive = true;
  /** From the hello, else X-Device-Id, else the peer address. */
  deviceId: string;
  /** Whether deviceId was named by the terminal (hello or header) and may supersede another connection. */
  explicitDeviceId = false;
  /** Whose key opened the connection (per-terminal keys may name only their own device). */
  principal: Principal = { role: 'device', deviceId: null };
  /** Group names held (DEFAULT_LIBRARY), deduplicated; set by the hello. */
  groups: readonly string[] = [];

  constructor(
    readonly ws: WebSocket,
    /**
     * The upgraded socket the hub handed to ws (its own object, not ws's
     * internals). Notices framed once go straight to it (sendFramed); see there.
     */
    readonly socket: Duplex,
    /** X-Device-Id of the upgrade request, if any. */
    readonly headerDeviceId: string | undefined,
    readonly remoteAddress: string,
  ) {
    this.deviceId = headerDeviceId ?? remoteAddress;
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  send(frame: Uint8Array): void {
    this.ws.send(frame, { binary: true });
  }

  /**
   * Writes a complete WebSocket frame (wire-frame.ts) to the socket: one write
   * per terminal, no framing per terminal. Safe next to ws's own sends because
   * the hub's WebSocketServer has no compression and the hub sends only
   * Buffers, so ws writes each of its frames synchronously and whole; nothing
   * of ws's can be queued behind which this frame could overtake. Callers check
   * `open` first: ws.close() has sent the close frame once readyState leaves OPEN.
   */
  sendFramed(frame: Buffer): void {
    this.socket.write(frame);
  }

  sendMessage(message: PushMessage): void {
    this.send(encodePushFrame(message));
  }

  /** PushError with the code, then the close with the same code (protocol §12). */
  fail(code: number, reason: string): void {
    // Already closing or closed: the first close code stands.
    if (!this.open) return;
    // Close reasons are limited to 123 bytes; ours are ASCII, cut well below.
    const short = reason.slice(0, 100);
    try {
      this.sendMessage({ type: PushFrameType.Error, code, reason: short });
    } catch {
      // The close below still tells the terminal what happened.
    }
    this.ws.close(code, short);
  }

  close(code: number, reason: string): void {
    if (this.open) this.ws.close(code, reason);
  }

  ping(): void {
    this.ws.ping();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
