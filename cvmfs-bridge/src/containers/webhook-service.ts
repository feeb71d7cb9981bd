// The webhook receiver: authenticated POSTs are stored in the durable outbox (SQLite, fsync'd)
// BEFORE the registry gets its 2xx, then a single worker applies the matching wishlist entries
// for each changed repository, retrying with backoff. A scheduled full reconciliation repairs
// anything a lost or refused webhook missed. /metrics serves the Prometheus metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Repository } from '../repo/repository.js';
import { type ContainerConfig, webhookSecret } from './config.js';
import { ContainerError } from './errors.js';
import { containerMetrics, type EventSink } from './events.js';
import { RegistryClient } from './registry-client.js';
import { ContainerState } from './state.js';
import { parseDockerNotification, parseHarborWebhook, type RepositoryChange } from './webhook-payloads.js';
import { applyWishlist, readWishlist, reconcileAll } from './wishlist.js';

export interface WebhookServiceOptions {
  readonly config: ContainerConfig;
  readonly stateDir: string;
  readonly openRepo: (fqrn: string) => Repository;
  readonly onEvent?: EventSink;
  /** Poll period of the outbox worker. */
  readonly pollMilliseconds?: number;
  /** How long to wait for the registry to show what an event announced (see untilRegistrySettled). */
  readonly settleMilliseconds?: number;
}

export interface WebhookService {
  readonly url: string;
  readonly app: FastifyInstance;
  /** Resolves when the outbox is empty and the worker idle (tests, shutdown). */
  drain(timeoutMs?: number): Promise<void>;
  reconcile(): Promise<void>;
  close(): Promise<void>;
}

const digestOf = (s: string) => createHash('sha256').update(s).digest();

/** Accepts `Bearer SECRET` (Docker distribution headers) or the bare SECRET (Harbor's auth header). */
export function authorized(header: string | undefined, secret: string): boolean {
  if (!header || secret.length === 0) return false;
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : header;
  return timingSafeEqual(digestOf(presented), digestOf(secret));
}

/**
 * docker-registry sends a manifest's push event before it moves the tag (and a delete event
 * around the deletion), so the registry may not show the change yet when the event arrives.
 * Wait (bounded) until the tag resolves to the pushed digest, or the deleted digest is gone;
 * the wishlist is then applied against what the registry says, whatever it says by then.
 */
async function untilRegistrySettled(client: RegistryClient, change: RepositoryChange, limitMs: number) {
  const ref = { registry: change.registry, repository: change.repository };
  const deadline = Date.now() + limitMs;
  const settled = async () => {
    if (change.action === 'push' && change.tag && change.digest)
      return (await client.resolveTag(ref, change.tag)) === change.digest;
    if (change.action === 'delete' && change.digest)
      return (await client.resolveTag(ref, change.digest).catch(() => undefined)) === undefined;
    return true;
  };
  while (!(await settled().catch(() => true)) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
}

export async function serveWebhooks(options: WebhookServiceOptions): Promise<WebhookService> {
  const { config } = options;
  const secret = webhookSecret(config);
  if (secret.length < 16)
    throw new ContainerError(
      'CONFIG_INVALID',
      'webhookToken (or webhookTokenFile) must hold a secret of at least 16 characters',
    );
  const wishlists = config.wishlists.map((file) => ({ file, list: readWishlist(file) }));
  const state = new ContainerState(join(options.stateDir, 'containers-webhooks'));
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new ContainerError('WEBHOOK_INVALID', 'body is not JSON'), undefined);
    }
  });

  const receive =
    (source: 'registry' | 'harbor', parse: (b: unknown) => RepositoryChange[]) =>
    async (req: FastifyRequest, reply: { code: (n: number) => { send: (b: unknown) => unknown } }) => {
      if (!authorized(req.headers.authorization, secret)) {
        containerMetrics.webhookEvents.inc({ source, outcome: 'unauthorized' });
        return reply.code(401).send({ error: 'WEBHOOK_UNAUTHORIZED' });
      }
      let changes: RepositoryChange[];
      try {
        changes = parse(req.body);
      } catch (error) {
        containerMetrics.webhookEvents.inc({ source, outcome: 'invalid' });
        return reply.code(400).send({ error: 'WEBHOOK_INVALID', message: (error as Error).message });
      }
      for (const change of changes) state.enqueue(source, JSON.stringify(change));
      containerMetrics.webhookEvents.inc({ source, outcome: changes.length > 0 ? 'queued' : 'ignored' });
      containerMetrics.outboxDepth.set(state.pendingCount());
      if (changes.length > 0) kick();
      return reply.code(202).send({ queued: changes.length });
    };
  app.setErrorHandler((error, _req, reply) => {
    const code =
      (error as { code?: string }).code === 'WEBHOOK_INVALID'
        ? 400
        : ((error as { statusCode?: number }).statusCode ?? 500);
    void reply.code(code).send({ error: (error as Error).message });
  });
  app.post('/webhooks/registry', receive('registry', parseDockerNotification));
  app.post('/webhooks/harbor', receive('harbor', parseHarborWebhook));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', containerMetrics.registry.contentType);
    return containerMetrics.registry.metrics();
  });
  app.get('/healthz', async () => ({
    ok: true,
    pending: state.pendingCount(),
    lastError: state.lastError(),
  }));

  const ctx = {
    config,
    stateDir: options.stateDir,
    openRepo: options.openRepo,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
  const client = new RegistryClient(config);
  async function handle(change: RepositoryChange): Promise<void> {
    const lists = wishlists.filter(({ list }) =>
      list.inputs.some((i) => i.registry === change.registry && i.repository === change.repository),
    );
    if (lists.length === 0) return;
    await untilRegistrySettled(client, change, options.settleMilliseconds ?? 10_000);
    for (const { list } of lists) {
      const report = await applyWishlist(list, ctx, {
        registry: change.registry,
        repository: change.repository,
      });
      // A path another source owns (TAG_CONFLICT) is refused for good until that source lets
      // go: retrying the event would not help (reconciliation picks it up later); it shows in
      // the rejections metric and the image.error event.
      const failed = report.failed.filter((f) => f.code !== 'TAG_CONFLICT');
      if (failed.length > 0) {
        const f = failed[0];
        throw new ContainerError('REGISTRY_FAILED', `${f?.reference}: ${f?.code}: ${f?.message}`);
      }
    }
  }

  // One owner of the repository: the outbox worker and reconciliation never run at once.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  // One worker: events are applied one at a time, in arrival order.
  let running: Promise<void> | undefined;
  let stopped = false;
  let busy = false;
  const work = async () => {
    busy = true;
    try {
      for (let row = state.nextDue(); row && !stopped; row = state.nextDue()) {
        try {
          const change = JSON.parse(row.payload) as RepositoryChange;
          await exclusive(() => handle(change));
          state.complete(row.id);
        } catch (error) {
          state.fail(row.id, (error as Error).message, config.outboxMaxAttempts);
        }
        containerMetrics.outboxDepth.set(state.pendingCount());
      }
    } finally {
      busy = false;
    }
  };
  function kick(): void {
    if (stopped || running) return;
    running = work().finally(() => {
      running = undefined;
    });
  }
  const poll = setInterval(kick, options.pollMilliseconds ?? 1000);
  let reconciling: Promise<void> | undefined;
  const reconcile = async () => {
    reconciling = exclusive(() => reconcileAll(ctx)).then(() => undefined);
    try {
      await reconciling;
    } finally {
      reconciling = undefined;
    }
  };
  const timer =
    config.reconcileIntervalSeconds > 0
      ? setInterval(() => void reconcile().catch(() => undefined), config.reconcileIntervalSeconds * 1000)
      : undefined;

  const address = await app.listen({ host: config.webhookHost, port: config.webhookPort });
  kick(); // events stored before a restart are processed now
  return {
    url: address,
    app,
    async drain(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (state.nextDue() || busy || running) {
        if (Date.now() > deadline) throw new Error('outbox did not drain');
        kick();
        await (running ?? new Promise((r) => setTimeout(r, 50)));
      }
    },
    reconcile,
    async close() {
      stopped = true;
      clearInterval(poll);
      if (timer) clearInterval(timer);
      await app.close();
      await running;
      await reconciling;
      state.close();
    },
  };
}
