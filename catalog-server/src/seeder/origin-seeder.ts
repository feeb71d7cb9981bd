// The origin as a BitTorrent seeder. A web seed (BEP 19) answers every agent that asks for a
// piece, so at the start of a rollout the origin link carries the same pieces many times; a
// seeding peer instead uploads to a few peers at a time the pieces they ask for (rarest
// first), and they pass them on. Artifacts are seeded from the blob directory through hard
// links named as each torrent names its file, so no byte is copied. The blobs were checked
// against their sha256 when uploaded, so pieces are not re-hashed (skipVerify).

import type { EventEmitter } from 'node:events';
import { link, mkdir, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { defaultTransferConfig, readTorrentInfo, TransferEngine } from '@trustswarm/fetch';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Config } from '../config.js';
import type { Metrics } from '../http/metrics-plugin.js';
import { seedableTorrents } from '../storage/catalog-repo.js';
import type { Db } from '../storage/db.js';

/** Server events after which a new artifact may be seedable. */
const STORED_EVENTS = ['catalog-changed', 'artifact-stored'] as const;

export interface SeederStatus {
  torrentPort: number;
  /** BitTorrent peer id (hex): the tracker leaves it out of swarm counts */
  peerId: string;
  seeding: string[];
}

export class OriginSeeder {
  private readonly seeding = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private unsubscribe = (): void => {};

  private constructor(
    private readonly engine: TransferEngine,
    private readonly deps: {
      db: Db;
      blobs: BlobStore;
      blobDir: string;
      logger: Logger;
      /** pieces shown per peer while super-seeding; 0 = an ordinary seed */
      superSeedPieces: number;
    },
  ) {}

  static async start(
    config: Readonly<Config>,
    deps: { db: Db; blobs: BlobStore; logger: Logger; metrics: Metrics; events: EventEmitter },
  ): Promise<OriginSeeder> {
    const s = config.seeder;
    const engine = await TransferEngine.start(
      {
        ...defaultTransferConfig,
        torrentPort: s.torrentPort,
        // peers reach the origin where agents reach its HTTP (tracker, layout, web seed)
        listenAddress: isIP(config.server.host) ? config.server.host : '',
        maxConnsPerTorrent: s.maxConnsPerTorrent,
        uploadSlots: s.uploadSlots,
        uploadLimitBytesPerSecond: s.uploadLimitBytesPerSecond,
        readBatchMs: s.readBatchMs,
        dht: { ...defaultTransferConfig.dht, enabled: false },
        webSeed: { ...defaultTransferConfig.webSeed, enabled: false },
      },
      { onWarning: (infoHash, message) => deps.logger.debug({ infoHash }, message) },
    );
    const seeder = new OriginSeeder(engine, {
      ...deps,
      blobDir: config.blobs.directory,
      superSeedPieces: s.superSeed ? s.superSeedPiecesPerPeer : 0,
    });
    new Gauge({
      name: 'tsw_catalog_seeder_uploaded_bytes',
      help: 'Bytes the origin seeder uploaded to BitTorrent peers since start',
      registers: [deps.metrics.registry],
      collect() {
        this.set(engine.stats().reduce((sum, t) => sum + t.uploadedBytes, 0));
      },
    });
    new Gauge({
      name: 'tsw_catalog_seeder_repeat_bytes',
      help: 'Of the seeder uploaded bytes, those repeating blocks it had already sent to some peer',
      registers: [deps.metrics.registry],
      collect() {
        this.set(engine.stats().reduce((sum, t) => sum + t.repeatUploadBytes, 0));
      },
    });
    await seeder.scan();
    seeder.timer = setInterval(() => void seeder.scan(), s.scanIntervalSeconds * 1000);
    seeder.timer.unref();
    // A rollout may start the moment a catalog is published (auto-approve rules): seed at
    // once rather than at the next scan. The interval still catches anything missed.
    const rescan = (): void => void seeder.scan();
    for (const event of STORED_EVENTS) deps.events.on(event, rescan);
    seeder.unsubscribe = () => {
      for (const event of STORED_EVENTS) deps.events.off(event, rescan);
    };
    deps.logger.info({ torrentPort: engine.port, torrents: seeder.seeding.size }, 'origin seeder started');
    return seeder;
  }

  status(): SeederStatus {
    return { torrentPort: this.engine.port, peerId: this.engine.peerId, seeding: [...this.seeding] };
  }

  /** Starts seeding every catalogued torrent whose artifact is stored whole; one scan at a time. */
  scan(): Promise<void> {
    this.scanning = this.scanning
      .then(() => this.scanOnce())
      .catch((err: unknown) => {
        this.deps.logger.warn({ err }, 'origin seeder scan failed');
      });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    for (const t of await seedableTorrents(this.deps.db)) {
      if (this.seeding.has(t.infoHash)) continue;
      const stored = await this.deps.blobs.size(`artifacts/${t.sha256}`);
      if (stored === undefined) continue; // not uploaded (yet)
      const torrentBytes = await this.readTorrent(t.infoHash);
      const info = await readTorrentInfo(torrentBytes, t.infoHash);
      if (info.sizeBytes !== stored) continue; // a different artifact: never seed it under this hash
      const dir = join(this.deps.blobDir, 'seed', t.infoHash);
      await mkdir(dir, { recursive: true });
      const target = join(dir, info.fileName);
      if (!(await exists(target))) await link(join(this.deps.blobDir, 'artifacts', t.sha256), target);
      await this.engine.seed(
        torrentBytes,
        dir,
        // One piece per peer by default: with `uploadSlots` peers served, 8 pieces are in flight
        // at once and each reaches an agent after 8 × piece/B, not 16 × as with 2 pieces each.
        this.deps.superSeedPieces > 0 ? { superSeed: { piecesPerPeer: this.deps.superSeedPieces } } : {},
      );
      this.seeding.add(t.infoHash);
      this.deps.logger.info({ infoHash: t.infoHash, sizeBytes: info.sizeBytes }, 'seeding artifact');
    }
  }

  private async readTorrent(infoHash: string): Promise<Buffer> {
    const stream = await this.deps.blobs.openRead(`torrents/${infoHash}`);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
    await this.scanning;
    await this.engine.destroy();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
