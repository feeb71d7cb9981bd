// `tsw-bridge run`: starts the flows the config enables (approved content, S3 buckets,
// repository requests) around one state database and one RabbitMQ session, serves
// /status and /metrics when http.listen is set, and stops cleanly on SIGINT/SIGTERM.
import Fastify, { type FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import type { BridgeConfig } from '../config.js';
import { repositoryTurns } from '../repo/turns.js';
import { AmqpSession } from './amqp/session.js';
import type { ApprovedFlow } from './approved/flow.js';
import { FlowError } from './errors.js';
import { openKeyStore } from './keystore/index.js';
import { FlowMetrics } from './metrics.js';
import { RequestsFlow } from './requests/flow.js';
import { S3Flow } from './s3/flow.js';
import { loadS3Tls } from './s3/tls.js';
import { FlowState, flowStateFile } from './state.js';

export interface Runner {
  readonly session?: AmqpSession;
  readonly s3?: S3Flow;
  readonly requests?: RequestsFlow;
  readonly approved?: ApprovedFlow;
  readonly httpUrl?: string;
  status(): unknown;
  stop(): Promise<void>;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535)
    throw new FlowError('CONFIG_INVALID', `http.listen must be host:port, got ${listen}`);
  return { host: listen.slice(0, i), port };
}

export async function startRunner(config: BridgeConfig, logger: Logger = pino()): Promise<Runner> {
  if (!config.s3.enabled && !config.requests.enabled && !config.approved.enabled)
    throw new FlowError(
      'CONFIG_INVALID',
      'no flow enabled: set s3.enabled, requests.enabled or approved.enabled',
    );
  const listen = config.http.listen ? splitHostPort(config.http.listen) : undefined;
  // A bad s3.caFile refuses the start before anything is opened.
  const s3Tls = config.s3.enabled ? loadS3Tls(config.s3) : undefined;
  const state = new FlowState(flowStateFile(config.stateDir));
  const metrics = new FlowMetrics();
  const needsAmqp = config.s3.enabled || config.requests.enabled;
  const session = needsAmqp ? new AmqpSession(config.amqp, logger.child({ part: 'amqp' })) : undefined;
  const s3 =
    config.s3.enabled && session
      ? new S3Flow({ config, session, state, metrics, logger: logger.child({ flow: 's3' }), tls: s3Tls })
      : undefined;
  const requests =
    config.requests.enabled && session
      ? new RequestsFlow({
          config,
          session,
          state,
          metrics,
          keyStore: openKeyStore(config.keyStore, config.stateDir),
          logger: logger.child({ flow: 'requests' }),
        })
      : undefined;
  // Loaded only when enabled: webtorrent and its dependencies take seconds to import.
  const approved = config.approved.enabled
    ? new (await import('./approved/flow.js')).ApprovedFlow({
        config,
        state,
        metrics,
        logger: logger.child({ flow: 'approved' }),
      })
    : undefined;

  s3?.start();
  requests?.start();
  session?.start();
  await approved?.start();

  const status = () => ({
    amqp: session ? { connected: session.connected, reconnects: session.reconnects } : null,
    s3: s3?.status() ?? null,
    approved: approved?.status() ?? null,
    // transactions open and waiting, per repository (flows take turns: repo/turns.ts)
    repositories: repositoryTurns(),
  });
  let app: FastifyInstance | undefined;
  const stop = async () => {
    await app?.close();
    await approved?.stop();
    await s3?.stop();
    await requests?.stop();
    await session?.stop();
    state.close();
  };
  let httpUrl: string | undefined;
  if (listen) {
    app = Fastify({ logger: false });
    app.get('/status', async () => status());
    app.get('/metrics', async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
    try {
      httpUrl = await app.listen(listen);
    } catch (error) {
      await stop();
      throw new FlowError(
        'CONFIG_INVALID',
        `cannot listen on ${config.http.listen}: ${(error as Error).message}`,
      );
    }
    logger.info({ url: httpUrl }, 'status and metrics listening');
  }
  logger.info(
    { s3: config.s3.enabled, requests: config.requests.enabled, approved: config.approved.enabled },
    'bridge flows started',
  );
  return {
    ...(session ? { session } : {}),
    ...(s3 ? { s3 } : {}),
    ...(requests ? { requests } : {}),
    ...(approved ? { approved } : {}),
    ...(httpUrl ? { httpUrl } : {}),
    status,
    stop,
  };
}
