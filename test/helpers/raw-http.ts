// Raw HTTP over TCP for tests that must send what fetch() refuses to (bad
// framing, odd methods, split packets) and see exactly what comes back.
import { connect } from 'node:net';

export interface RawResponse {
  /** Everything the server wrote before it closed (or before the timeout). */
  text: string;
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** The connection was reset rather than closed cleanly. */
  reset: boolean;
}

export interface RawRequestOptions {
  /** Pause between the parts, ms (so each lands in its own packet). */
  gapMs?: number;
  /** Give up waiting for the server to close, ms. */
  timeoutMs?: number;
}

/** Writes the parts in order on one connection and collects the answer. */
export function rawRequest(port: number, parts: Array<string | Buffer>, options: RawRequestOptions = {}): Promise<RawResponse> {
  const { gapMs = 0, timeoutMs = 20_000 } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reset = false;
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('latin1'), reset));
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

function parse(text: string, reset: boolean): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { text, status: match ? Number(match[1]) : null, headers, body: end < 0 ? '' : text.slice(end + 4), reset };
}
