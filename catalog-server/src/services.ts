// Everything a running server holds, built once from the config and handed to the HTTP plugins.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { loadTrustAnchors, type TrustAnchors } from '@trustswarm/policy';
import { type Logger, pino } from 'pino';
import { Accounts } from './auth/accounts.js';
import type { BlobStore } from './blobs/blob-store.js';
import { FsBlobStore } from './blobs/fs-blob-store.js';
import { S3BlobStore } from './blobs/s3-blob-store.js';
import type { Config } from './config.js';
import { createMetrics, type Metrics } from './http/metrics-plugin.js';
import { ApprovalCache } from './sites/approval-cache.js';
import type { Db } from './storage/db.js';
import { openDb } from './storage/open.js';
import { Tracker } from './tracker/tracker.js';

export interface Services {
  config: Readonly<Config>;
  db: Db;
  blobs: BlobStore;
  accounts: Accounts;
  metrics: Metrics;
  tracker: Tracker;
  /** CAs endorser and site certificates chain to; undefined when none is configured. */
  anchors: TrustAnchors | undefined;
  /** 'catalog-changed' and 'site-changed' (site name): the approval signer listens. */
  events: EventEmitter;
  approvalCache: ApprovalCache;
  logger: Logger;
  clock: () => Date;
}

export interface ServiceOptions {
  db?: Db;
  logger?: Logger;
  clock?: () => Date;
}

export async function createServices(
  config: Readonly<Config>,
  options: ServiceOptions = {},
): Promise<Services> {
  const clock = options.clock ?? (() => new Date());
  const db = options.db ?? (await openDb(config.storage));
  const blobs: BlobStore =
    config.blobs.backend === 's3' ? new S3BlobStore(config.blobs) : new FsBlobStore(config.blobs.directory);
  await blobs.init();
  const metrics = createMetrics();
  const anchors = loadAnchors(config.trust);
  return {
    config,
    db,
    blobs,
    accounts: new Accounts(db, config, clock),
    metrics,
    tracker: new Tracker(db, config, metrics),
    anchors,
    events: new EventEmitter(),
    approvalCache: new ApprovalCache(db, config.approval.cacheSeconds * 1000),
    logger: options.logger ?? pino({ enabled: false }),
    clock,
  };
}

function loadAnchors(trust: Config['trust']): TrustAnchors | undefined {
  if (!trust.caPath && !trust.bundleFile) return undefined;
  return loadTrustAnchors({
    ...(trust.caPath ? { caPath: trust.caPath } : {}),
    ...(trust.bundleFile ? { bundlePem: readFileSync(trust.bundleFile) } : {}),
  });
}
