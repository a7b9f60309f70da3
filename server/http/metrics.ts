// Prometheus metrics, one registry per server instance (prom-client's global
// default registry would be module-level state shared by every server in a
// process, e.g. two test servers).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
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

  /**
   * A metric read from a component's own counters at scrape time, so the
   * component needs no knowledge of Prometheus. Counters must only grow.
   */
  sample(type: 'gauge' | 'counter', name: string, help: string, read: () => number): void {
    if (type === 'gauge') {
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
      return;
    }
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        // prom-client counters only increment: move to the current total.
        this.reset();
        this.inc(read());
      },
    });
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
