// Starts a full server: services, bootstrap admin, HTTP listener and background schedulers.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import { OriginSeeder } from './seeder/origin-seeder.js';
import { createServices, type ServiceOptions, type Services } from './services.js';
import { startApprovalScheduler } from './sites/approval-signer.js';
import { startUpstreamScheduler } from './sites/upstream.js';
import { userByName } from './storage/users-repo.js';

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  seeder: OriginSeeder | undefined;
  url: string;
  close(): Promise<void>;
}

export async function ensureBootstrapAdmin(services: Services): Promise<void> {
  const { bootstrapAdminName: name, bootstrapAdminPassword: password } = services.config.auth;
  if (!name) return;
  if (await userByName(services.db, name)) return;
  await services.accounts.createUser({ name, password, roles: [{ role: 'admin' }] }, 'bootstrap');
}

async function startSeeder(services: Services): Promise<OriginSeeder | undefined> {
  const { config, logger } = services;
  if (!config.seeder.enabled) return undefined;
  if (config.blobs.backend !== 'fs') {
    logger.info('origin seeder off: artifacts are on S3, served by the web seed only');
    return undefined;
  }
  return OriginSeeder.start(config, services);
}

export interface StartOptions extends ServiceOptions {
  /** The web UI plugin (src/ui/plugin.ts), mounted under /ui; `tsw-catalog serve` always passes it. */
  ui?: FastifyPluginAsync;
}

export async function startServer(
  config: Readonly<Config>,
  options: StartOptions = {},
): Promise<RunningServer> {
  const services = await createServices(config, options);
  await ensureBootstrapAdmin(services);
  const app = await buildApp(services, {
    logger: options.logger ?? false,
    ...(options.ui ? { ui: options.ui } : {}),
  });
  const stopSchedulers = [startApprovalScheduler(services), startUpstreamScheduler(services)];
  let seeder: OriginSeeder | undefined;
  app.addHook('onClose', async () => seeder?.stop());
  await app.listen({ host: config.server.host, port: config.server.port });
  // After listen: the seeder announces to this server's own tracker. It stops with the app.
  seeder = await startSeeder(services);
  services.tracker.originPeerId = seeder?.status().peerId;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  services.logger.info({ url: `http://${config.server.host}:${port}` }, 'tsw-catalog listening');
  return {
    app,
    services,
    seeder,
    url: `http://${config.server.host}:${port}`,
    async close() {
      for (const stop of stopSchedulers) stop();
      await app.close();
      await services.db.close();
    },
  };
}
