// Repositories on request: a request on the durable queue is validated, the repository is
// created with keys kept in the key store, its public key and client config are written
// where they can be downloaded, and the answer goes to the request's reply queue (with its
// correlationId). Every step is recorded and redoable, so a crash or a duplicate request
// ends in the same answer, never in a second repository or a second key set.
import { existsSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { settingsOf } from '../../cli/commands.js';
import type { BridgeConfig } from '../../config.js';
import { generateRepositoryKeys } from '../../repo/keys.js';
import { repoLayout } from '../../repo/layout.js';
import { Repository } from '../../repo/repository.js';
import type { AmqpSession, Delivery } from '../amqp/session.js';
import { errorCode, errorMessage, FlowError } from '../errors.js';
import type { KeyStore } from '../keystore/index.js';
import type { FlowMetrics } from '../metrics.js';
import type { FlowState } from '../state.js';
import { parseRequest, type RepoRequest } from './message.js';
import { type PublicFiles, writePublicFiles } from './public-files.js';

const CONSUMER = 'requests';

export type RequestReply =
  | ({ status: 'created' | 'exists'; repository: string; revision: number } & PublicFiles)
  | { status: 'refused'; repository?: string; code: string; message: string };

export interface RequestsFlowDeps {
  readonly config: BridgeConfig;
  readonly session: AmqpSession;
  readonly state: FlowState;
  readonly keyStore: KeyStore;
  readonly logger: Logger;
  readonly metrics: FlowMetrics;
}

export class RequestsFlow {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: RequestsFlowDeps) {}

  start(): void {
    const cfg = this.deps.config.requests;
    this.deps.session.addConsumer({
      name: CONSUMER,
      queue: cfg.queue,
      deadLetterQueue: cfg.deadLetterQueue,
      prefetch: 16,
      // One request at a time: creation takes the repository's keys and directories.
      onMessage: (delivery) => {
        this.chain = this.chain.then(() => this.handle(delivery));
      },
    });
  }

  async stop(): Promise<void> {
    await this.chain;
  }

  private async handle(delivery: Delivery): Promise<void> {
    const { session, logger, metrics, config } = this.deps;
    const { replyTo, correlationId } = delivery.message.properties;
    const dlq = config.requests.deadLetterQueue;
    try {
      if (typeof replyTo !== 'string' || replyTo === '')
        throw new FlowError('NO_REPLY_QUEUE', 'request has no replyTo queue to answer on');
      let reply: RequestReply;
      let refusal: FlowError | undefined;
      try {
        reply = await this.answer(parseRequest(delivery.message.content, config.requests));
      } catch (error) {
        if (!(error instanceof FlowError) || error.code === 'KEYSTORE_FAILED') throw error;
        refusal = error;
        reply = { status: 'refused', code: error.code, message: error.message };
      }
      await session.publish(CONSUMER, '', replyTo, Buffer.from(JSON.stringify(reply)), {
        ...(correlationId ? { correlationId } : {}),
        contentType: 'application/json',
      });
      metrics.requests.inc({ status: reply.status });
      if (refusal) {
        logger.warn({ code: refusal.code }, `repository request refused: ${refusal.message}`);
        metrics.deadLettered.inc({ flow: 'requests', code: refusal.code });
        await session.deadLetter(delivery, dlq, refusal.code, refusal.message);
      } else {
        logger.info({ repository: reply.repository, status: reply.status }, 'repository request answered');
        session.ack(delivery);
      }
    } catch (error) {
      const code = errorCode(error, 'FAILED');
      if (code === 'NO_REPLY_QUEUE') {
        metrics.deadLettered.inc({ flow: 'requests', code });
        await session.deadLetter(delivery, dlq, code, errorMessage(error)).catch(() => {});
        return;
      }
      // Transient (key store, disk, broker): leave unacked; it comes back after a reconnect.
      logger.error({ code }, `repository request failed, will be retried: ${errorMessage(error)}`);
      if (session.isLive(delivery)) delivery.channel.nack(delivery.message, false, true);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Creates (or finds) the repository; safe to call again after a crash at any step. */
  async answer(request: RepoRequest): Promise<RequestReply> {
    const { state, keyStore, config } = this.deps;
    const fqrn = request.repository;
    const settings = settingsOf(config);
    const layout = repoLayout(settings.storageDir, settings.stateDir, fqrn);
    const known = state.request(fqrn);
    if (known && known.requester !== request.requester)
      throw new FlowError('NAME_TAKEN', `repository ${fqrn} was requested by someone else`);
    if (!known && existsSync(layout.manifestFile))
      throw new FlowError('NAME_TAKEN', `repository ${fqrn} already exists`);
    if (known?.status === 'ready') {
      const repo = Repository.open(fqrn, settings);
      return {
        status: 'exists',
        repository: fqrn,
        revision: repo.manifest().revision,
        ...writePublicFiles(repo, config.publicUrl),
      };
    }
    if (!known) state.putRequest({ ...request, status: 'creating', response: '' });

    let keys = await keyStore.get(fqrn);
    if (!keys) {
      keys = generateRepositoryKeys(fqrn);
      await keyStore.put(fqrn, keys);
    }
    if (!existsSync(layout.manifestFile)) {
      // A crash inside create leaves partial directories; the keys are safe in the key store.
      rmSync(layout.publicDir, { recursive: true, force: true });
      rmSync(layout.stateDir, { recursive: true, force: true });
      Repository.create(fqrn, settings, new Date(), keys);
    }
    const repo = Repository.open(fqrn, settings);
    const reply: RequestReply = {
      status: 'created',
      repository: fqrn,
      revision: repo.manifest().revision,
      ...writePublicFiles(repo, config.publicUrl),
    };
    state.putRequest({ ...request, status: 'ready', response: JSON.stringify(reply) });
    return reply;
  }
}
