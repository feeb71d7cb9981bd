// Prometheus metrics: default process metrics plus request counts and latency by route.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Request counts by method, route and status, kept in a plain Map and handed to prom-client only
 * when scraped: labelled counters hash their labels on every increment, which showed up in the
 * approval.yaml benchmark.
 */
class RequestCounts {
  private readonly counts = new Map<string, { method: string; route: string; status: string; n: number }>();

  add(method: string, route: string, status: number): void {
    const key = `${method} ${status} ${route}`;
    const entry = this.counts.get(key);
    if (entry) entry.n++;
    else this.counts.set(key, { method, route, status: String(status), n: 1 });
  }

  register(registry: Registry): void {
    const counts = this.counts;
    new Counter({
      name: 'tsw_catalog_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { method, route, status, n } of counts.values()) this.inc({ method, route, status }, n);
      },
    });
  }
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new RequestCounts();
  requests.register(registry);
  return {
    registry,
    requests,
    latency: new Histogram({
      name: 'tsw_catalog_http_request_seconds',
      help: 'HTTP request latency (all routes)',
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers: [registry],
    }),
    originBytes: new Counter({
      name: 'tsw_catalog_origin_bytes_total',
      help: 'Artifact bytes served by the origin',
      registers: [registry],
    }),
    originRejected: new Counter({
      name: 'tsw_catalog_origin_rejected_total',
      help: 'Origin requests refused by the concurrency limits',
      registers: [registry],
    }),
    trackerAnnounces: new Counter({
      name: 'tsw_catalog_tracker_announces_total',
      help: 'Tracker announces by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

export const metricsPlugin = fp(async (app: FastifyInstance) => {
  const { registry, requests, latency } = app.services.metrics;
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.add(request.method, route, reply.statusCode);
    latency.observe(reply.elapsedTime / 1000);
    done();
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
});
