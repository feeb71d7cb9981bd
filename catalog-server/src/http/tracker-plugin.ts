// /announce and /scrape handed to the embedded tracker as raw requests (info_hash is binary; a
// parsed query string would corrupt it), plus swarm statistics in the API.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { badRequest } from '../errors.js';
import { requireAction } from './auth-plugin.js';

export const trackerPlugin = fp(async (app: FastifyInstance) => {
  const { tracker } = app.services;
  for (const action of ['announce', 'scrape'] as const) {
    app.get(`/${action}`, { schema: { hide: true } }, (request, reply) => {
      reply.hijack();
      reply.raw.setHeader('content-type', 'text/plain');
      tracker.server.onHttpRequest(request.raw, reply.raw, { action });
    });
  }
  app.get<{ Params: { infoHash: string } }>(
    '/api/v1/swarms/:infoHash',
    { schema: { tags: ['tracker'] } },
    async (request) => {
      requireAction(request, 'read');
      const infoHash = request.params.infoHash.toLowerCase();
      if (!/^[0-9a-f]{40}$/.test(infoHash))
        throw badRequest('INFO_HASH_INVALID', 'info hash must be 40 hex digits');
      return { infoHash, catalogued: await tracker.isCatalogued(infoHash), ...tracker.swarm(infoHash) };
    },
  );
  app.addHook('onClose', async () => tracker.close());
});
