// S3 bucket → CVMFS. Bucket notifications arrive on a durable queue; each message becomes
// object changes queued per repository (the sequencer: one batch at a time per repository,
// in arrival order). A batch downloads the objects' current bytes, publishes them in one
// transaction, records them in the state database, and only then acks the messages it
// covered; a rejected message goes to the dead-letter queue with its reason. A periodic
// ListObjectsV2 reconciliation queues whatever the notifications missed.
import { mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { settingsOf } from '../../cli/commands.js';
import type { BridgeConfig } from '../../config.js';
import { isBridgeError } from '../../errors.js';
import { normalizeRepoPath } from '../../format/repo-path.js';
import { Repository } from '../../repo/repository.js';
import { runAs } from '../../repo/turns.js';
import type { AmqpSession, Delivery } from '../amqp/session.js';
import { errorCode, errorMessage, FlowError } from '../errors.js';
import type { FlowMetrics } from '../metrics.js';
import type { FlowState, S3ObjectRow } from '../state.js';
import { applyBatch, hasContent, type StagedChange } from './apply.js';
import { downloadObject, makeS3Client, ObjectGetter } from './client.js';
import { type ObjectChange, parseEventMessage } from './events.js';
import { mapLimit } from './map-limit.js';
import { bucketDrift } from './reconcile.js';
import { Sequencer } from './sequencer.js';
import { loadS3Tls, type S3Tls } from './tls.js';

const CONSUMER = 's3';
/** Objects up to this size are kept in memory between download and publish (no staging file)… */
const INLINE_OBJECT_BYTES = 1024 * 1024;
/** …as long as a batch holds no more than this in memory. */
const INLINE_BATCH_BYTES = 256 * 1024 * 1024;
/** Codes after which retrying the same bytes cannot help: the change is rejected. */
const PERMANENT = new Set(['BAD_PATH', 'BAD_INPUT', 'NOT_FOUND', 'OBJECT_TOO_LARGE', 'BAD_KEY']);

interface Rejection {
  readonly change: ObjectChange;
  readonly code: string;
  readonly reason: string;
  readonly etag: string;
}

const objectId = (c: { bucket: string; key: string }) => `${c.bucket}\0${c.key}`;
/** A put of one object version (a queued change that will bring exactly that version). */
const versionId = (c: ObjectChange) =>
  c.action === 'put' && c.etag !== '' ? `${objectId(c)}\0${c.etag}` : '';

interface Ticket {
  readonly delivery: Delivery;
  pending: number;
  rejected?: { code: string; reason: string };
}

interface Item {
  readonly change: ObjectChange;
  readonly ticket?: Ticket;
}

interface Prepared {
  readonly staged: StagedChange[];
  readonly rejected: Map<string, Rejection>;
  readonly files: string[];
  /** When the downloads started and ended (for the per-batch timing log line). */
  readonly startedAt: number;
  readonly downloadedAt: number;
}

export interface S3FlowDeps {
  readonly config: BridgeConfig;
  readonly session: AmqpSession;
  readonly state: FlowState;
  readonly logger: Logger;
  readonly metrics: FlowMetrics;
  /** `s3.caFile` read and checked; read here when not given. */
  readonly tls?: S3Tls;
}

export class S3Flow {
  private readonly s3: S3Client;
  private readonly getter: ObjectGetter;
  private readonly tls: S3Tls;
  private readonly sequencers = new Map<string, Sequencer<Item, Prepared>>();
  /** Per repository: ETags the batch now publishing brings in, so the next need not fetch them. */
  private readonly ahead = new Map<string, Map<string, string>>();
  private readonly stagingDir: string;
  /** Queued or in-flight puts by object version, until published: reconciliation skips them. */
  private readonly queuedVersions = new Map<string, number>();
  private reconcileTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private staged = 0;
  lastRevision: Record<string, number> = {};
  lastReconcile: { at: string; queued: number } | undefined;

  constructor(private readonly deps: S3FlowDeps) {
    this.tls = deps.tls ?? loadS3Tls(deps.config.s3);
    this.getter = new ObjectGetter(deps.config.s3, this.tls);
    this.s3 = makeS3Client(deps.config.s3, this.tls);
    this.stagingDir = join(deps.config.stateDir, 'flows', 's3-staging');
  }

  private get cfg() {
    return this.deps.config.s3;
  }

  start(): void {
    rmSync(this.stagingDir, { recursive: true, force: true });
    mkdirSync(this.stagingDir, { recursive: true, mode: 0o700 });
    const { exchange, routingKey, queue } = this.cfg;
    this.deps.session.addConsumer({
      name: CONSUMER,
      queue,
      deadLetterQueue: this.cfg.deadLetterQueue,
      prefetch: this.cfg.prefetch,
      setup: async (channel) => {
        await channel.assertExchange(exchange, 'topic', { durable: true });
        await channel.bindQueue(queue, exchange, routingKey);
      },
      onMessage: (delivery) => this.onMessage(delivery),
    });
    for (const b of this.cfg.buckets) {
      try {
        Repository.open(b.repository, settingsOf(this.deps.config));
      } catch (error) {
        this.deps.logger.error({ bucket: b.bucket }, `mapped repository unusable: ${errorMessage(error)}`);
      }
    }
    if (this.cfg.reconcileIntervalSeconds > 0) void this.reconcileLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconcileTimer);
    await Promise.all([...this.sequencers.values()].map((s) => s.stop(30_000)));
    this.getter.close();
    this.s3.destroy();
  }

  status() {
    return {
      queued: Object.fromEntries([...this.sequencers].map(([r, s]) => [r, s.length])),
      lastRevision: this.lastRevision,
      lastReconcile: this.lastReconcile ?? null,
    };
  }

  private onMessage(delivery: Delivery): void {
    let changes: ObjectChange[];
    try {
      changes = parseEventMessage(delivery.message.content, this.cfg).changes;
    } catch (error) {
      this.reject(delivery, errorCode(error, 'MESSAGE_INVALID'), errorMessage(error));
      return;
    }
    if (changes.length === 0) {
      this.deps.session.ack(delivery);
      return;
    }
    const ticket: Ticket = { delivery, pending: changes.length };
    for (const change of changes) this.enqueue({ change, ticket });
  }

  private reject(delivery: Delivery, code: string, reason: string): void {
    this.deps.metrics.deadLettered.inc({ flow: 's3', code });
    this.deps.logger.warn({ code }, `S3 event rejected: ${reason}`);
    // If the dead-letter publish fails the message stays unacked and comes back after a reconnect.
    this.deps.session
      .deadLetter(delivery, this.cfg.deadLetterQueue, code, reason)
      .catch((error: unknown) => this.deps.logger.warn(`dead-lettering failed: ${errorMessage(error)}`));
  }

  private enqueue(item: Item): void {
    const { repository } = item.change;
    let seq = this.sequencers.get(repository);
    if (!seq) {
      seq = new Sequencer<Item, Prepared>({
        batchDelayMs: this.cfg.batchDelayMs,
        batchMaxEvents: this.cfg.batchMaxEvents,
        // Changes of messages whose channel died are dropped: the broker redelivers those messages.
        keep: (i) => {
          const live = !i.ticket || this.deps.session.isLive(i.ticket.delivery);
          if (!live) this.unpend(i.change);
          return live;
        },
        prepare: (batch) => this.prepare(batch, this.ahead.get(repository) ?? new Map()),
        commit: (batch, prepared) => this.commit(repository, batch, prepared),
        release: async (prepared) => {
          await Promise.all(prepared.files.map((f) => rm(f, { force: true })));
        },
        onRetry: (error, retryMs) =>
          this.deps.logger.warn(
            { repository, code: errorCode(error), retryMs },
            `S3 batch failed, will retry: ${errorMessage(error)}`,
          ),
      });
      this.sequencers.set(repository, seq);
    }
    const version = versionId(item.change);
    if (version) this.queuedVersions.set(version, (this.queuedVersions.get(version) ?? 0) + 1);
    seq.push(item);
  }

  private unpend(change: ObjectChange): void {
    const version = versionId(change);
    const n = this.queuedVersions.get(version) ?? 0;
    if (n > 1) this.queuedVersions.set(version, n - 1);
    else this.queuedVersions.delete(version);
  }

  /** The last change per object, in the order of those last changes. */
  private coalesce(batch: Item[]): ObjectChange[] {
    const last = new Map<string, ObjectChange>();
    for (const { change } of batch) {
      const id = objectId(change);
      last.delete(id);
      last.set(id, change);
    }
    return [...last.values()];
  }

  private isCurrent(change: ObjectChange, row: S3ObjectRow | undefined): boolean {
    if (change.action !== 'put' || change.etag === '' || !row || row.etag !== change.etag) return false;
    return row.kind === change.kind || row.kind === 'rejected';
  }

  /** Coalesces the batch and downloads what changed (no repository access yet). */
  private async prepare(batch: Item[], ahead: ReadonlyMap<string, string>): Promise<Prepared> {
    const { state } = this.deps;
    // Skipping what the batch ahead brings is safe: this batch publishes (and acks) only after it.
    const changes = this.coalesce(batch).filter(
      (c) =>
        !this.isCurrent(c, state.s3Object(c.bucket, c.key)) &&
        !(c.action === 'put' && c.etag !== '' && ahead.get(objectId(c)) === c.etag),
    );
    const rejected = new Map<string, Rejection>();
    const files: string[] = [];
    const startedAt = Date.now();
    try {
      const staged = await this.stage(changes, rejected, files);
      return { staged, rejected, files, startedAt, downloadedAt: Date.now() };
    } catch (error) {
      await Promise.all(files.map((f) => rm(f, { force: true })));
      throw error;
    }
  }

  /** Publishes a prepared batch, records it, then acks (or dead-letters) its messages. */
  private async commit(repository: string, batch: Item[], prepared: Prepared): Promise<void> {
    const { staged } = prepared;
    // Set before the first await: the sequencer starts the next batch's downloads right after.
    this.ahead.set(repository, new Map(staged.filter(hasContent).map((c) => [objectId(c.change), c.etag])));
    try {
      await this.publishAndSettle(repository, batch, prepared);
    } finally {
      this.ahead.delete(repository); // published and recorded, or failed: nothing to skip now
    }
  }

  private async publishAndSettle(repository: string, batch: Item[], prepared: Prepared): Promise<void> {
    const { staged, rejected } = prepared;
    const committing = Date.now();
    let published: StagedChange[] = [];
    if (staged.length > 0) {
      this.deps.logger.info({ repository, objects: staged.length }, 'S3 batch staged');
      if (this.cfg.pauseBeforePublishMs > 0)
        await new Promise((r) => setTimeout(r, this.cfg.pauseBeforePublishMs));
      published = await this.publish(repository, staged, rejected);
    }
    const publishedAt = Date.now();
    this.record(repository, published, rejected);
    this.deps.metrics.events.inc({ outcome: 'published' }, batch.length - rejected.size);
    this.deps.metrics.events.inc({ outcome: 'rejected' }, rejected.size);
    for (const item of batch) {
      this.unpend(item.change);
      this.settle(item, rejected.get(objectId(item.change)));
    }
    // Where a batch's time goes: downloads, waiting for the batch ahead, publish, record + acks.
    this.deps.logger.info(
      {
        repository,
        events: batch.length,
        objects: staged.length,
        downloadMs: prepared.downloadedAt - prepared.startedAt,
        waitMs: committing - prepared.downloadedAt,
        publishMs: publishedAt - committing,
        settleMs: Date.now() - publishedAt,
      },
      'S3 batch done',
    );
  }

  /** Downloads the current bytes of each changed object; a vanished object stages as a removal. */
  private async stage(
    changes: ObjectChange[],
    rejected: Map<string, Rejection>,
    files: string[],
  ): Promise<StagedChange[]> {
    let inlineBytes = 0;
    const staged = await mapLimit(
      changes,
      this.cfg.downloadConcurrency,
      async (change): Promise<StagedChange | undefined> => {
        const file = join(this.stagingDir, `obj-${++this.staged}`);
        const root = normalizeRepoPath(this.mappingOf(change).path);
        try {
          const got = await downloadObject(this.getter, change.bucket, change.key, {
            file,
            maxBytes: this.cfg.maxObjectBytes,
            inline: (size) => {
              if (size > INLINE_OBJECT_BYTES || inlineBytes + size > INLINE_BATCH_BYTES) return false;
              inlineBytes += size;
              return true;
            },
          });
          if (!got) return { change, etag: '', sizeBytes: 0, root };
          if (got.bytes) return { change, bytes: got.bytes, etag: got.etag, sizeBytes: got.sizeBytes, root };
          files.push(file);
          return { change, file, etag: got.etag, sizeBytes: got.sizeBytes, root };
        } catch (error) {
          if (!PERMANENT.has(errorCode(error))) throw error;
          const reason = errorMessage(error);
          rejected.set(objectId(change), { change, code: errorCode(error), reason, etag: change.etag });
          return undefined;
        }
      },
    );
    return staged.filter((s): s is StagedChange => s !== undefined);
  }

  /** Remembers what is now published (and what was refused) once the publish succeeded. */
  private record(repository: string, published: StagedChange[], rejected: Map<string, Rejection>): void {
    const row = (change: ObjectChange) => ({ bucket: change.bucket, key: change.key, repository });
    this.deps.state.applyS3({
      put: [
        ...published.filter(hasContent).map((s) => ({
          ...row(s.change),
          etag: s.etag,
          sizeBytes: s.sizeBytes,
          kind: s.change.kind,
          reason: '',
        })),
        ...[...rejected.values()].map((r) => ({
          ...row(r.change),
          etag: r.etag,
          sizeBytes: 0,
          kind: 'rejected' as const,
          reason: `${r.code}: ${r.reason}`,
        })),
      ],
      removed: published.filter((s) => !hasContent(s)).map((s) => s.change),
    });
  }

  /** Publishes the batch; when a change is refused, isolates it and publishes the others. */
  private async publish(
    repository: string,
    staged: StagedChange[],
    rejected: Map<string, Rejection>,
  ): Promise<StagedChange[]> {
    const repo = Repository.open(repository, settingsOf(this.deps.config));
    const timer = this.deps.metrics.publishSeconds.startTimer({ flow: 's3' });
    try {
      const result = await runAs(`S3 flow, batch of ${staged.length} changes`, () =>
        applyBatch(repo, staged),
      );
      this.published(repository, result.revision);
      return staged;
    } catch (error) {
      if (!isBridgeError(error) || !PERMANENT.has(error.code) || staged.length === 0) throw error;
    } finally {
      timer();
    }
    const ok: StagedChange[] = [];
    for (const s of staged) {
      try {
        this.published(
          repository,
          (await runAs(`S3 flow, ${s.change.bucket}/${s.change.key}`, () => applyBatch(repo, [s]))).revision,
        );
        ok.push(s);
      } catch (error) {
        if (!isBridgeError(error) || !PERMANENT.has(error.code)) throw error;
        rejected.set(objectId(s.change), {
          change: s.change,
          code: error.code,
          reason: error.message,
          etag: s.etag,
        });
      }
    }
    return ok;
  }

  private published(repository: string, revision: number): void {
    this.lastRevision[repository] = revision;
    this.deps.metrics.publishes.inc({ flow: 's3' });
    this.deps.logger.info({ repository, revision }, 'S3 changes published');
  }

  private settle(item: Item, rejected: { code: string; reason: string } | undefined): void {
    const { ticket } = item;
    if (!ticket) return;
    if (rejected && !ticket.rejected)
      ticket.rejected = { code: rejected.code, reason: `${item.change.key}: ${rejected.reason}` };
    if (--ticket.pending > 0) return;
    if (ticket.rejected) this.reject(ticket.delivery, ticket.rejected.code, ticket.rejected.reason);
    else this.deps.session.ack(ticket.delivery);
  }

  private mappingOf(change: ObjectChange) {
    const mapping = this.cfg.buckets.find((b) => b.bucket === change.bucket);
    if (!mapping) throw new FlowError('UNKNOWN_BUCKET', `bucket ${change.bucket} is not mapped`);
    return mapping;
  }

  private async reconcileLoop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.reconcile();
    } catch (error) {
      this.deps.logger.warn({ code: errorCode(error) }, `S3 reconciliation failed: ${errorMessage(error)}`);
    }
    if (this.stopped) return;
    this.reconcileTimer = setTimeout(
      () => void this.reconcileLoop(),
      this.cfg.reconcileIntervalSeconds * 1000,
    );
  }

  /** Lists every mapped bucket and queues the differences from what was published. */
  async reconcile(): Promise<number> {
    let queued = 0;
    const started = Date.now();
    for (const mapping of this.cfg.buckets) {
      const warn = (message: string) => this.deps.logger.warn(message);
      const changes = await bucketDrift(
        this.s3,
        mapping,
        this.deps.state,
        this.cfg.maxKeyBytes,
        warn,
        this.tls,
      );
      // A version already queued (typically a backlog of events still draining at start) will
      // be published by that change: queuing it again would only make batches with nothing to do.
      const missed = changes.filter((c) => !this.queuedVersions.has(versionId(c)));
      for (const change of missed) this.enqueue({ change });
      queued += missed.length;
    }
    this.lastReconcile = { at: new Date().toISOString(), queued };
    const listMs = Date.now() - started;
    if (queued > 0) this.deps.logger.info({ queued, listMs }, 'S3 reconciliation queued missed changes');
    else this.deps.logger.debug({ listMs }, 'S3 reconciliation found nothing missed');
    return queued;
  }
}
