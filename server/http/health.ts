// Liveness and readiness for load balancers and orchestrators, answered
// before Koa (so they work while the app is still being built, e.g. while
// the models load and the search index is built) and without a key. They name no
// data: only whether the process is up and, if not ready, why.
//
//   GET|HEAD /healthz -> 200 {"status":"ok"} as long as the process serves HTTP
//   GET|HEAD /readyz  -> 200 {"status":"ready"}, or 503 {"status":"not ready","reason":"..."}
//
// Any other request while not ready gets 503 with the same reason and a
// Retry-After, in the FacePass envelope's shape so clients can parse it.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';

/** Why the server does not serve yet (or any more); undefined once ready. */
export class Readiness {
  private why: string | undefined = 'starting';

  get ready(): boolean {
    return this.why === undefined;
  }

  get reason(): string | undefined {
    return this.why;
  }

  notReady(reason: string): void {
    this.why = reason;
  }

  markReady(): void {
    this.why = undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, method: string | undefined): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...(status === 503 ? { 'Retry-After': '5' } : {}),
  });
  res.end(method === 'HEAD' ? undefined : text);
}

const pathOf = (url: string | undefined) => (url ?? '/').split('?', 1)[0];

/**
 * Answers /healthz and /readyz; returns false for any other path. Other
 * methods than GET and HEAD on them get 405.
 */
export function answerHealth(req: IncomingMessage, res: ServerResponse, readiness: Readiness): boolean {
  const path = pathOf(req.url);
  if (path !== HEALTH_PATH && path !== READY_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 });
    res.end();
    return true;
  }
  if (path === HEALTH_PATH) sendJson(res, 200, { status: 'ok' }, req.method);
  else if (readiness.ready) sendJson(res, 200, { status: 'ready' }, req.method);
  else sendJson(res, 503, { status: 'not ready', reason: readiness.reason }, req.method);
  return true;
}

/** Any other request before the app is ready: 503 in the FacePass envelope's shape. */
export function answerNotReady(req: IncomingMessage, res: ServerResponse, readiness: Readiness): void {
  // The body is not read: drop it instead of letting it stall the socket.
  req.resume();
  const now = Date.now();
  sendJson(
    res,
    503,
    { code: 503, message: `SERVICE_UNAVAILABLE: ${readiness.reason ?? 'starting'}`, timestamp: now, timecost: 0, data: {} },
    req.method,
  );
}
