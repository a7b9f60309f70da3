// Prometheus metrics, one registry per server instance (prom-client's global
// default registry would be module-level state shared by every server in a
// process, e.g. two test servers).
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Context, Next } from 'koa';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Koa middleware timing every request; unmatched paths share one label so bad clients cannot blow up cardinality. */
  middleware() {
    return async (ctx: Context, next: Next) => {
      const end = this.httpDuration.startTimer({ method: ctx.method });
      try {
        await next();
      } finally {
        const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
        end({ route: String(route), status: String(ctx.status) });
      }
    };
  }
}
