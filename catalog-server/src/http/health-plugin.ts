// Liveness (the process answers) and readiness (storage answers).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const healthPlugin = fp(async (app: FastifyInstance) => {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await app.services.db.get('SELECT 1 AS ok');
      return { status: 'ready' };
    } catch (err) {
      return reply.status(503).send({ status: 'storage unavailable', detail: (err as Error).message });
    }
  });
});
