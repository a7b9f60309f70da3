// The benchmarks' HTTP client: node:http with a keep-alive Agent.
// On the 2-core machine the load generator shares the cores with the server
// it measures, so its own CPU is taken from the server. Global fetch (undici)
// costs about 1.4 ms of client CPU per request against 0.5 ms here, and
// (measured, same server) 0.57 ms of the server's event loop against 0.30
// ms: the cheaper client measures the server, not the client.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

export interface BenchResponse {
  status: number;
  body: Buffer;
}

export class BenchHttpClient {
  private readonly agent = new Agent({ keepAlive: true });

  constructor(private readonly base: string, private readonly headers: Record<string, string> = {}) {}

  /** One request; resolves with the whole response body once it has ended. */
  send(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<BenchResponse> {
    return retryOnStaleSocket(() => this.sendOnce(method, path, body, headers));
  }

  private sendOnce(method: string, path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<BenchResponse> {
    return new Promise((resolve, reject) => {
      const req = request(this.base + path, {
        method,
        agent: this.agent,
        headers: { ...this.headers, ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(body);
    });
  }

  /** POST of a JSON body, answer parsed as JSON. */
  async postJson<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.send('POST', path, Buffer.from(JSON.stringify(body)), { 'content-type': 'application/json', ...headers });
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  /** POST of a multipart form holding one PNG file (field `image`), answer parsed as JSON. */
  async postImage<T>(path: string, png: Uint8Array, headers: Record<string, string> = {}): Promise<T> {
    const { contentType, payload } = multipartPng(png);
    const res = await this.send('POST', path, payload, { ...headers, 'content-type': contentType });
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Node's documented retry for keep-alive clients: the server drops a
 * connection idle for its keepAliveTimeout (5 s), and a request that meets
 * it closing fails with ECONNRESET before any response, so the server never
 * saw it. That request (and only that one) is sent again, on a new connection.
 */
export async function retryOnStaleSocket<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    const { code, reusedSocket } = err as { code?: string; reusedSocket?: boolean };
    if (code !== 'ECONNRESET' || !reusedSocket) throw err;
    return send();
  }
}

/** A multipart/form-data body with the PNG as field `image`, as a browser form sends it. */
function multipartPng(png: Uint8Array): { contentType: string; payload: Buffer } {
  const boundary = `----bench${randomBytes(12).toString('hex')}`;
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="face.png"\r\ncontent-type: image/png\r\n\r\n`),
    png,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { contentType: `multipart/form-data; boundary=${boundary}`, payload };
}
