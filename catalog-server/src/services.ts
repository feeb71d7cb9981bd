// Everything a running server holds, built once from the config and handed to the HTTP plugins.
import { Accounts } from './auth/accounts.js';
import { FsBlobStore } from './blobs/blob-store.js';
import type { Config } from './config.js';
import { createMetrics, type Metrics } from './http/metrics-plugin.js';
import type { Db } from './storage/db.js';
import { openDb } from './storage/open.js';
import { Tracker } from './tracker/tracker.js';

export interface Services {
  config: Readonly<Config>;
  db: Db;
  blobs: FsBlobStore;
  accounts: Accounts;
  metrics: Metrics;
  tracker: Tracker;
  clock: () => Date;
}

export interface ServiceOptions {
  db?: Db;
  clock?: () => Date;
}

export async function createServices(
  config: Readonly<Config>,
  options: ServiceOptions = {},
): Promise<Services> {
  const clock = options.clock ?? (() => new Date());
  const db = options.db ?? (await openDb(config.storage));
  const blobs = new FsBlobStore(config.blobs.directory);
  await blobs.init();
  const metrics = createMetrics();
  return {
    config,
    db,
    blobs,
    accounts: new Accounts(db, config, clock),
    metrics,
    tracker: new Tracker(db, config, metrics),
    clock,
  };
}
