// Refusing an HTTP upgrade before the WebSocket handshake: the socket is a
// raw TCP stream at that point, so the response is written by hand. Nothing
// of the WebSocket layer is allocated for a refused peer.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Writes a minimal HTTP/1.1 response, then destroys the socket once it is flushed. */
export function rejectUpgrade(socket: Duplex, status: number, extraHeaders: Record<string, string> = {}): void {
  // A peer may reset the connection while we write; that must not become an
  // uncaught 'error' event.
  socket.on('error', () => socket.destroy());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = STATUS_CODES[status] ?? 'Error';
  const headers = {
    Connection: 'close',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...extraHeaders,
  };
  const head = [`HTTP/1.1 ${status} ${body}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  socket.once('finish', () => socket.destroy());
  socket.end(`${head}\r\n\r\n${body}`);
}
