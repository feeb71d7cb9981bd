// Local HTTP API on 127.0.0.1 or a unix socket: GET /status (JSON), GET /metrics
// (Prometheus), PUT /rates (change upload/download limits at run time).

import { chmod, rm } from 'node:fs/promises';
import type { TransferEngine } from '@trustswarm/fetch';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AgentDaemon } from './daemon.js';
import { AgentError } from './errors.js';
import { createMetrics } from './metrics.js';

const ratesSchema = z
  .object({
    uploadLimitBytesPerSecond: z.number().int().nonnegative().optional(),
    downloadLimitBytesPerSecond: z.number().int().nonnegative().optional(),
  })
  .strict();

export type ListenTarget = { socketPath: string } | { host: string; port: number };

export function parseListen(listen: string): ListenTarget {
  if (listen.startsWith('unix:')) return { socketPath: listen.slice(5) };
  const match = /^(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})$/.exec(listen);
  if (!match?.[1] || !match[2]) {
    throw new AgentError('CONFIG_INVALID', `api.listen ${listen}: expected 127.0.0.1:PORT or unix:/path`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

export async function startApi(
  daemon: AgentDaemon,
  engine: TransferEngine,
  opts: { listen: string; rates: { uploadLimitBytesPerSecond: number; downloadLimitBytesPerSecond: number } },
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const registry = createMetrics(() => daemon.status());
  const rates = { ...opts.rates };

  app.get('/status', async () => ({ ...daemon.status(), rates }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.put('/rates', async (req, reply) => {
    const parsed = ratesSchema.safeParse(req.body);
    if (!parsed.success) {
      return reply
        .code(400)
        .send({ error: { code: 'BAD_REQUEST', message: parsed.error.issues[0]?.message } });
    }
    engine.setRates(parsed.data);
    Object.assign(rates, parsed.data);
    return rates;
  });

  const target = parseListen(opts.listen);
  if ('socketPath' in target) {
    await rm(target.socketPath, { force: true });
    await app.listen({ path: target.socketPath });
    // Owner and group only: the control API changes rate limits.
    await chmod(target.socketPath, 0o660);
  } else {
    await app.listen({ host: target.host, port: target.port });
  }
  return app;
}
