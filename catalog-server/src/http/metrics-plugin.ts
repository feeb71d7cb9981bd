// Prometheus metrics: default process metrics plus request counts and latency by route.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'tsw_catalog_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tsw_catalog_http_request_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'] as const,
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
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
});
