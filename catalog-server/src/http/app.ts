// The fastify application: one plugin per concern, registered in a fixed order.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';
import { authPlugin } from './auth-plugin.js';
import { catalogRoutes } from './catalog-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { docsPlugin } from './docs-plugin.js';
import { draftViewRoutes } from './draft-view-routes.js';
import { errorsPlugin } from './errors-plugin.js';
import { healthPlugin } from './health-plugin.js';
import { metricsPlugin } from './metrics-plugin.js';
import { originPlugin } from './origin-plugin.js';
import { sessionRoutes } from './session-routes.js';
import { siteRoutes } from './site-routes.js';
import { siteViewRoutes } from './site-view-routes.js';
import { staticRoutes } from './static-routes.js';
import { torrentRoutes } from './torrent-routes.js';
import { trackerPlugin } from './tracker-plugin.js';
import { uploadRoutes } from './upload-routes.js';
import { usersRoutes } from './users-routes.js';
import './types.js';

export interface AppOptions {
  logger?: FastifyBaseLogger | false;
  /** The web UI (issue 9) plugs in here, mounted under /ui. */
  ui?: FastifyPluginAsync;
}

const rawBody = (_request: unknown, body: Buffer, done: (err: Error | null, body?: Buffer) => void) =>
  done(null, body);

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    return503OnClosing: true,
  });
  app.decorate('services', services);
  for (const type of [
    'application/yaml',
    'application/pkcs7-signature',
    'application/x-bittorrent',
    'application/gzip',
  ]) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, rawBody);
  }
  // artifact chunks are streamed to disk by the upload route, never buffered
  app.addContentTypeParser('application/offset+octet-stream', (_request, payload, done) =>
    done(null, payload),
  );

  await app.register(errorsPlugin);
  await app.register(docsPlugin);
  await app.register(metricsPlugin);
  await app.register(authPlugin);
  await app.register(healthPlugin);
  await app.register(usersRoutes);
  await app.register(sessionRoutes);
  await app.register(catalogRoutes);
  await app.register(draftViewRoutes);
  await app.register(siteRoutes);
  await app.register(siteViewRoutes);
  await app.register(dashboardRoutes);
  await app.register(staticRoutes);
  await app.register(uploadRoutes);
  await app.register(torrentRoutes);
  await app.register(originPlugin);
  if (services.config.tracker.enabled) await app.register(trackerPlugin);
  if (options.ui) await app.register(options.ui, { prefix: '/ui' });
  return app;
}
