// A `ws` server on a free loopback port for the suite it is called in:
// opened before the suite's tests, its clients terminated and the server
// closed after them. For tests that talk to it with their own clients.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export function useLoopbackWss(): { readonly server: WebSocketServer; readonly port: number } {
  let server: WebSocketServer | undefined;
  before(async function () {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await once(server, 'listening');
  });
  after(async function () {
    if (!server) return;
    for (const ws of server.clients) ws.terminate();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  });
  return {
    get server() {
      if (!server) throw new Error('useLoopbackWss: the server opens in before()');
      return server;
    },
    get port() {
      return (this.server.address() as AddressInfo).port;
    },
  };
}
