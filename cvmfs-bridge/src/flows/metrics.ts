// Prometheus metrics of `tsw-bridge run` (served on /metrics when http.listen is set).
import { Counter, Histogram, Registry } from 'prom-client';

export class FlowMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'tsw_bridge_s3_events_total',
    help: 'S3 object changes handled, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: 'tsw_bridge_dead_lettered_total',
    help: 'messages moved to a dead-letter queue, by flow and code',
    labelNames: ['flow', 'code'] as const,
    registers: [this.registry],
  });
  readonly publishes = new Counter({
    name: 'tsw_bridge_publishes_total',
    help: 'repository revisions published by the flows',
    labelNames: ['flow'] as const,
    registers: [this.registry],
  });
  readonly publishSeconds = new Histogram({
    name: 'tsw_bridge_publish_seconds',
    help: 'time of one flow publish (download excluded)',
    labelNames: ['flow'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'tsw_bridge_repo_requests_total',
    help: 'repository requests answered, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly approved = new Counter({
    name: 'tsw_bridge_approved_actions_total',
    help: 'approved-content actions (published, removed, flagged, failed)',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
}
