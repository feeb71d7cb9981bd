// The embedded tracker ("booster"): bittorrent-tracker with its own listeners off, fed raw requests
// by fastify, accepting only info hashes that appear in a stored catalog entry.
import Server, { type TrackerPeer, type TrackerSwarm } from 'bittorrent-tracker/server';
import type { Config } from '../config.js';
import type { Metrics } from '../http/metrics-plugin.js';
import { entriesByInfoHash } from '../storage/catalog-repo.js';
import type { Db } from '../storage/db.js';

const positiveCacheMs = 60_000;
const negativeCacheMs = 5_000;

export class Tracker {
  readonly server: Server;
  /** the origin seeder's BitTorrent peer id (hex), once it runs */
  originPeerId: string | undefined;
  private readonly known = new Map<string, { allowed: boolean; until: number }>();

  constructor(
    private readonly db: Db,
    config: Readonly<Config>,
    private readonly metrics: Metrics,
  ) {
    this.server = new Server({
      http: false,
      udp: false,
      ws: false,
      stats: false,
      interval: config.tracker.announceIntervalSeconds * 1000,
      peersCacheLength: config.tracker.maxPeersPerTorrent,
      trustProxy: config.server.trustProxy,
      filter: (infoHash, _params, cb) => {
        this.isCatalogued(infoHash).then(
          (allowed) => {
            this.metrics.trackerAnnounces.inc({ outcome: allowed ? 'accepted' : 'refused' });
            cb(allowed ? null : new Error('info hash is not in any catalog on this server'));
          },
          (err: unknown) => {
            this.metrics.trackerAnnounces.inc({ outcome: 'error' });
            cb(new Error(`tracker lookup failed: ${(err as Error).message}`));
          },
        );
      },
    });
    // client mistakes are warnings for the tracker; they must not crash the server
    this.server.on('warning', () => undefined);
    this.server.on('error', () => undefined);
  }

  /** Forget cached decisions (called when a catalog is published). */
  invalidate(): void {
    this.known.clear();
  }

  async isCatalogued(infoHash: string): Promise<boolean> {
    const now = Date.now();
    const cached = this.known.get(infoHash);
    if (cached && cached.until > now) return cached.allowed;
    const allowed =
      /^[0-9a-f]{40}$/.test(infoHash) && (await entriesByInfoHash(this.db, infoHash)).length > 0;
    this.known.set(infoHash, { allowed, until: now + (allowed ? positiveCacheMs : negativeCacheMs) });
    if (this.known.size > 100_000) this.known.clear();
    return allowed;
  }

  /**
   * Peers of one torrent. The server's own origin seeder (its peer id set by the seeder) is
   * left out of the counts, so "seeders" are agents that have the artifact.
   */
  swarm(infoHash: string): { seeders: number; leechers: number; peers: number; originSeeding: boolean } {
    const swarm = this.server.torrents[infoHash];
    if (!swarm) return { seeders: 0, leechers: 0, peers: 0, originSeeding: false };
    const origin = this.originPeerId ? this.findPeer(swarm, this.originPeerId) : undefined;
    const originSeeding = origin?.complete === true;
    return {
      seeders: swarm.complete - (originSeeding ? 1 : 0),
      leechers: swarm.incomplete - (origin && !originSeeding ? 1 : 0),
      peers: swarm.peers.length - (origin ? 1 : 0),
      originSeeding,
    };
  }

  private findPeer(swarm: TrackerSwarm, peerId: string): TrackerPeer | undefined {
    for (const key of swarm.peers.keys) {
      const peer = swarm.peers.peek(key);
      if (peer?.peerId === peerId) return peer;
    }
    return undefined;
  }

  close(): void {
    this.server.close();
  }
}
