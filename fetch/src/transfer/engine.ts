// The BitTorrent engine: one webtorrent client per agent, configured for a private site
// swarm (tracker + DHT from site nodes + PEX, no UPnP/NAT-PMP, rarest-first) and wrapped
// with the limits, bans, resume records and web-seed policy webtorrent lacks.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import WebTorrent, { type AddOptions, type Torrent } from 'webtorrent';
import { errorMessage, FetchError, isDiskFull } from '../errors.js';
import { cooperativeChoker, defaultChokerTiming } from './choker.js';
import { FileChunkStore, type FileChunkStoreOptions } from './file-chunk-store.js';
import { type FileHasher, HashWorker } from './hash-worker.js';
import { constructListeningOn } from './listen-address.js';
import { type BanEvent, banCorruptPeers, PeerBanList } from './peer-bans.js';
import { countConns, countUnchoked, enforcePeerLimits, type PeerLimitCounters } from './peer-limits.js';
import { type PeerStats, peerStats } from './peer-stats.js';
import { linearRarestFirst } from './piece-picker.js';
import { BlockFile, writeBlocksToFile } from './piece-verify.js';
import { defaultReadBatching, ReadBatcher } from './read-batching.js';
import { countRepeatUploads, type UploadRepeats } from './repeat-uploads.js';
import { limitRequestPipeline } from './request-pipeline.js';
import { loadBitfield, persistBitfield, RESUME_FILE } from './resume.js';
import { readSocketsDirectly } from './socket-input.js';
import { DEFAULT_MAX_BUFFERED_BYTES, writeSocketsDirectly } from './socket-output.js';
import { limitSources, type SourceLimitCounters } from './source-limits.js';
import { type SuperSeedOptions, superSeed } from './super-seed.js';
import { readTorrentInfo, type TorrentInfo } from './torrent-file.js';
import { deferWebSeeds } from './web-seed.js';
import { lessCopyingWires } from './wire-parser.js';
import { gatherWireWrites } from './wire-writer.js';

export interface TransferConfig {
  torrentPort: number;
  /** the address peers connect to (and the DHT node's), '' = every interface */
  listenAddress?: string;
  maxConnsPerTorrent: number;
  uploadSlots: number;
  /** most peers feeding a download at once, more are told `not interested` (source-limits.ts);
   * unset: uploadSlots + 1; 0: no cap */
  maxSources?: number;
  /** bytes per second; 0 means unlimited */
  uploadLimitBytesPerSecond: number;
  downloadLimitBytesPerSecond: number;
  tracker: boolean;
  pex: boolean;
  dht: { enabled: boolean; bootstrap: string[]; port: number };
  webSeed: { enabled: boolean; delaySeconds: number; noPeerGraceSeconds: number };
  strikesToBan: number;
  resumeSaveIntervalMs: number;
  /** whole pieces kept in memory for uploads (file-chunk-store.ts; webtorrent's default 20) */
  pieceCacheSlots: number;
  /** BitTorrent protocol encryption (MSE/PE): costs CPU; pointless inside a site. */
  encryption: 'off' | 'prefer' | 'require';
  /** block requests (16 KiB) in flight per peer; bounds memory (request-pipeline.ts) */
  maxRequestsPerPeer?: number;
  /** upload slot policy (choker.ts); webtorrent's tit-for-tat only for comparison */
  choker?: 'cooperative' | 'tit-for-tat';
  /** longest a socket waits to read again after a short read (read-batching.ts); 0 = off */
  readBatchMs?: number;
  /** block data buffered in user space per peer before reading more for it waits (socket-output.ts) */
  sendBufferBytes?: number;
}

export const defaultTransferConfig: TransferConfig = {
  torrentPort: 6881,
  listenAddress: '',
  maxConnsPerTorrent: 10,
  uploadSlots: 5,
  uploadLimitBytesPerSecond: 0,
  downloadLimitBytesPerSecond: 0,
  tracker: true,
  pex: true,
  dht: { enabled: true, bootstrap: [], port: 6881 },
  webSeed: { enabled: true, delaySeconds: 300, noPeerGraceSeconds: 30 },
  strikesToBan: 1,
  resumeSaveIntervalMs: 1000,
  pieceCacheSlots: 4,
  encryption: 'off',
  maxRequestsPerPeer: 256,
  choker: 'cooperative',
  readBatchMs: defaultReadBatching.intervalMs,
  sendBufferBytes: DEFAULT_MAX_BUFFERED_BYTES,
};

export interface TransferEvents {
  onBan?: (infoHash: string, event: BanEvent) => void;
  onWebSeed?: (infoHash: string, reason: string) => void;
  onWarning?: (infoHash: string, message: string) => void;
}

export interface TransferStats extends PeerLimitCounters {
  infoHash: string;
  state: 'downloading' | 'seeding';
  sizeBytes: number;
  progress: number;
  receivedBytes: number;
  uploadedBytes: number;
  downloadBytesPerSecond: number;
  uploadBytesPerSecond: number;
  conns: number;
  unchoked: number;
  webSeedUsed: boolean;
  /** seeding: uploaded block bytes that repeat blocks already sent to some peer (repeat-uploads.ts) */
  repeatUploadBytes: number;
  /** downloading: peers told `not interested` because enough others fed us (source-limits.ts) */
  declinedSources: number;
  /** one line per connected peer: who it is, what it holds, who chokes whom, rates */
  peers: PeerStats[];
}

interface Active {
  torrent: Torrent;
  state: 'downloading' | 'seeding';
  counters: PeerLimitCounters;
  repeats?: UploadRepeats;
  sources?: SourceLimitCounters;
  webSeedUsed: boolean;
  stop: () => Promise<void>;
}

export interface DownloadJob {
  torrentFile: Uint8Array;
  expectedInfoHash: string;
  stagingDir: string;
}

export interface DownloadResult {
  info: TorrentInfo;
  dataPath: string;
  /** bytes received in this run (resume skips what earlier runs verified) */
  receivedBytes: number;
  /**
   * sha256 and size of the staged file, hashed from disk while it downloaded (hash-worker.ts);
   * undefined when that failed, and the store then hashes the file itself.
   */
  staged?: { sha256: string; size: number };
}

function limitOf(bytesPerSecond: number): number {
  return bytesPerSecond > 0 ? bytesPerSecond : -1;
}

export class TransferEngine {
  private readonly active = new Map<string, Active>();
  private readonly bans = new PeerBanList();
  private readonly hashing = new HashWorker();
  /** torrents whose blocks piece-verify.ts writes (it reports failed pieces to the ban logic) */
  private readonly assembled = new WeakSet<Torrent>();
  private readonly readBatcher: ReadBatcher;

  private constructor(
    private readonly client: WebTorrent,
    private readonly config: TransferConfig,
    private readonly events: TransferEvents,
  ) {
    this.readBatcher = new ReadBatcher({
      intervalMs: config.readBatchMs ?? defaultReadBatching.intervalMs,
    });
  }

  static async start(config: TransferConfig, events: TransferEvents = {}): Promise<TransferEngine> {
    const listenAddress = config.listenAddress ?? '';
    const client = constructListeningOn(
      listenAddress,
      () =>
        new WebTorrent({
          torrentPort: config.torrentPort,
          dhtPort: config.dht.port,
          maxConns: config.maxConnsPerTorrent,
          tracker: config.tracker ? {} : false,
          dht: config.dht.enabled
            ? { bootstrap: config.dht.bootstrap.length ? config.dht.bootstrap : false }
            : false,
          utPex: config.pex,
          lsd: false,
          natUpnp: false,
          natPmp: false,
          utp: false,
          secure: { off: 0, prefer: 1, require: 2 }[config.encryption],
          webSeeds: false, // added by deferWebSeeds only
          uploadLimit: limitOf(config.uploadLimitBytesPerSecond),
          downloadLimit: limitOf(config.downloadLimitBytesPerSecond),
        }),
    );
    await new Promise<void>((resolve, reject) => {
      client.once('error', reject);
      client.once('listening', () => {
        client.off('error', reject);
        resolve();
      });
    });
    const bound = client.address()?.address;
    if (listenAddress && bound !== listenAddress) {
      await new Promise<void>((resolve) => client.destroy(() => resolve()));
      throw new FetchError(
        'TRANSFER_FAILED',
        `transfer.listenAddress ${listenAddress}: the client listens on ${bound ?? 'nothing'} instead`,
      );
    }
    const engine = new TransferEngine(client, config, events);
    client.on('error', (err: unknown) => events.onWarning?.('', errorMessage(err)));
    return engine;
  }

  get port(): number {
    return this.client.address()?.port ?? 0;
  }

  /** The address peers connect to ('0.0.0.0' or '::' when every interface). */
  get address(): string {
    return this.client.address()?.address ?? '';
  }

  /** This client's BitTorrent peer id (hex), as trackers and peers see it. */
  get peerId(): string {
    return this.client.peerId;
  }

  /** The DHT node's UDP address, '' when DHT is off or not bound yet. */
  get dhtAddress(): string {
    const dht = this.client.dht as unknown as { address(): { address?: string } | null } | false;
    return dht ? (dht.address()?.address ?? '') : '';
  }

  /** UDP port of the DHT node, or 0 when DHT is off (other agents bootstrap from it). */
  get dhtPort(): number {
    return this.client.dht ? (this.client.dht.address()?.port ?? 0) : 0;
  }

  setRates(rates: { uploadLimitBytesPerSecond?: number; downloadLimitBytesPerSecond?: number }): void {
    if (rates.uploadLimitBytesPerSecond !== undefined) {
      this.client.throttleUpload(limitOf(rates.uploadLimitBytesPerSecond));
    }
    if (rates.downloadLimitBytesPerSecond !== undefined) {
      this.client.throttleDownload(limitOf(rates.downloadLimitBytesPerSecond));
    }
  }

  has(infoHash: string): boolean {
    return this.active.has(infoHash);
  }

  /** Downloads into job.stagingDir; resolves when every piece is verified and the torrent closed. */
  async download(job: DownloadJob): Promise<DownloadResult> {
    const info = await readTorrentInfo(job.torrentFile, job.expectedInfoHash);
    if (this.active.has(info.infoHash)) {
      throw new FetchError('TRANSFER_FAILED', `torrent ${info.infoHash} is already active`);
    }
    await mkdir(job.stagingDir, { recursive: true });
    const resumePath = join(job.stagingDir, RESUME_FILE);
    const dataPath = join(job.stagingDir, info.fileName);
    const bitfield = await loadBitfield(resumePath, info.infoHash, info.pieceCount);

    const hasher = this.hashing.hashFile({
      path: dataPath,
      size: info.sizeBytes,
      pieceLength: info.pieceLengthBytes,
      pieceCount: info.pieceCount,
    });
    const file = new BlockFile(dataPath);
    file.prepare();
    const torrent = this.addTorrent(
      job.torrentFile,
      { path: job.stagingDir, ...(bitfield ? { bitfield } : {}) },
      { file, checker: hasher },
    );
    const entry = this.track(torrent, info.infoHash, 'downloading');
    this.hashWhileDownloading(torrent, info, hasher);
    const stopPersist = persistBitfield(torrent, {
      resumePath,
      dataPath,
      intervalMs: this.config.resumeSaveIntervalMs,
      onError: (err) =>
        this.events.onWarning?.(info.infoHash, `resume record not saved: ${errorMessage(err)}`),
    });
    const stopWebSeed = this.config.webSeed.enabled
      ? deferWebSeeds(
          torrent,
          info.webSeedUrls,
          { ...this.config.webSeed, checkIntervalMs: 500 },
          (reason) => {
            entry.webSeedUsed = true;
            this.events.onWebSeed?.(info.infoHash, reason);
          },
        )
      : () => {};
    entry.stop = async () => {
      stopWebSeed();
      await stopPersist();
      hasher.close();
    };

    try {
      await new Promise<void>((resolve, reject) => {
        if (torrent.done) return resolve();
        torrent.once('done', resolve);
        torrent.once('error', reject);
        torrent.once('close', () =>
          reject(new FetchError('TRANSFER_CANCELLED', `download ${info.infoHash} cancelled`)),
        );
      });
    } catch (err) {
      await this.close(info.infoHash);
      if (err instanceof FetchError) throw err;
      if (isDiskFull(err)) {
        throw new FetchError(
          'DISK_FULL',
          `disk full while downloading ${info.infoHash} into ${job.stagingDir}`,
          {
            cause: err,
          },
        );
      }
      throw new FetchError('TRANSFER_FAILED', `download ${info.infoHash} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const receivedBytes = torrent.received;
    let staged: DownloadResult['staged'];
    try {
      staged = await hasher.digest();
    } catch (err) {
      this.events.onWarning?.(info.infoHash, `whole-file hash during download failed: ${errorMessage(err)}`);
    }
    await this.close(info.infoHash);
    return { info, dataPath, receivedBytes, ...(staged ? { staged } : {}) };
  }

  /**
   * Seeds a file that is already verified whole (sha256), so pieces are not re-hashed.
   * `superSeed` shows each peer a few pieces at a time (super-seed.ts): for an origin.
   */
  async seed(
    torrentFile: Uint8Array,
    dir: string,
    options: { superSeed?: SuperSeedOptions } = {},
  ): Promise<TorrentInfo> {
    const info = await readTorrentInfo(torrentFile);
    if (this.active.get(info.infoHash)?.state === 'seeding') return info;
    await this.close(info.infoHash);
    const torrent = this.addTorrent(torrentFile, { path: dir, skipVerify: true });
    if (options.superSeed) superSeed(torrent, options.superSeed);
    this.track(torrent, info.infoHash, 'seeding');
    torrent.on('error', (err: unknown) => this.events.onWarning?.(info.infoHash, errorMessage(err)));
    return info;
  }

  /** Stops downloading or seeding; files stay on disk. */
  async close(infoHash: string): Promise<void> {
    const entry = this.active.get(infoHash);
    if (!entry) return;
    this.active.delete(infoHash);
    await entry.stop();
    // webtorrent never calls back when the torrent already destroyed itself (e.g. on ENOSPC).
    if (entry.torrent.destroyed) return;
    await new Promise<void>((resolve) => entry.torrent.destroy({ destroyStore: false }, () => resolve()));
  }

  stats(): TransferStats[] {
    return [...this.active.entries()].map(([infoHash, a]) => ({
      infoHash,
      state: a.state,
      sizeBytes: a.torrent.length ?? 0,
      progress: a.torrent.progress ?? 0,
      receivedBytes: a.torrent.received ?? 0,
      uploadedBytes: a.torrent.uploaded ?? 0,
      downloadBytesPerSecond: a.torrent.downloadSpeed ?? 0,
      uploadBytesPerSecond: a.torrent.uploadSpeed ?? 0,
      conns: a.torrent.wires ? countConns(a.torrent) : 0,
      unchoked: a.torrent.wires ? countUnchoked(a.torrent) : 0,
      webSeedUsed: a.webSeedUsed,
      repeatUploadBytes: a.repeats?.repeatBytes ?? 0,
      declinedSources: a.sources?.declinedSources ?? 0,
      peers: a.torrent.wires ? peerStats(a.torrent) : [],
      ...a.counters,
    }));
  }

  get bannedPeers(): number {
    return this.bans.size;
  }

  async destroy(): Promise<void> {
    for (const infoHash of [...this.active.keys()]) await this.close(infoHash);
    this.readBatcher.close();
    await new Promise<void>((resolve) => this.client.destroy(() => resolve()));
    await this.hashing.terminate();
  }

  /**
   * Feeds the whole-file sha256 with every piece that is on disk: at 'ready' the pieces
   * webtorrent found verified (resume record or re-check), then each newly verified piece
   * (webtorrent emits 'verified' after the piece's write completed).
   */
  private hashWhileDownloading(torrent: Torrent, info: TorrentInfo, hasher: FileHasher): void {
    let ready = false;
    const onReady = (): void => {
      ready = true;
      const onDisk: number[] = [];
      for (let i = 0; i < info.pieceCount; i++) if (torrent.bitfield.get(i)) onDisk.push(i);
      hasher.piecesOnDisk(onDisk);
    };
    torrent.on('verified', (index: number) => {
      if (ready) hasher.piecesOnDisk([index]);
    });
    if (torrent.ready) onReady();
    else torrent.once('ready', onReady);
  }

  /** `receive`: where a download's blocks go and what checks its pieces (piece-verify.ts). */
  private addTorrent(
    torrentFile: Uint8Array,
    opts: { path: string; bitfield?: Uint8Array; skipVerify?: boolean },
    receive?: { file: BlockFile; checker: FileHasher },
  ) {
    // Our store caches pieces itself (file-chunk-store.ts): webtorrent's cache layer is off.
    const storeOpts: FileChunkStoreOptions = { cacheSlots: this.config.pieceCacheSlots };
    const addOptions: AddOptions = {
      ...opts,
      strategy: 'rarest',
      uploads: this.config.uploadSlots,
      store: FileChunkStore,
      // spread: AddOptions wants an index signature, which an interface type lacks
      storeOpts: { ...storeOpts },
      storeCacheSlots: 0,
      private: !this.config.pex && !this.config.dht.enabled,
    };
    const torrent = this.client.add(torrentFile, addOptions);
    // Each transfer module below adds its own 'wire' listener (a dozen with webtorrent's
    // own): more than EventEmitter's default 10, which is a leak warning, not a limit.
    torrent.setMaxListeners(32);
    torrent.on('warning', (err: unknown) => this.events.onWarning?.(torrent.infoHash, errorMessage(err)));
    // webtorrent refuses a handshake from itself only when `peerId === torrent.peerId`, and
    // 3.0.21's Torrent has no peerId: agents connected to themselves (PEX hands everyone
    // their own address), each such pair taking 2 of the 10 connection slots.
    (torrent as unknown as { peerId: string }).peerId = this.client.peerId;
    linearRarestFirst(torrent);
    if (!receive) {
      // seeding a verified file: nothing is received
    } else if (writeBlocksToFile(torrent, receive.file, receive.checker)) {
      this.assembled.add(torrent);
    } else {
      receive.file.close();
      this.events.onWarning?.(
        torrent.infoHash,
        'unknown webtorrent version: piece hashes stay on the main thread',
      );
    }
    lessCopyingWires(torrent, { reuseBlockBuffer: this.assembled.has(torrent) });
    readSocketsDirectly(torrent);
    this.readBatcher.batchTorrent(torrent);
    gatherWireWrites(torrent);
    writeSocketsDirectly(torrent, { maxBufferedBytes: this.config.sendBufferBytes });
    limitRequestPipeline(
      torrent,
      this.config.maxRequestsPerPeer ?? defaultTransferConfig.maxRequestsPerPeer ?? 256,
    );
    return torrent;
  }

  private track(torrent: Torrent, infoHash: string, state: Active['state']): Active {
    // Bans first, so a banned peer never takes a connection slot.
    banCorruptPeers(torrent, this.bans, {
      strikesToBan: this.config.strikesToBan,
      onBan: (event) => this.events.onBan?.(infoHash, event),
      failedPieceEvents: this.assembled.has(torrent),
    });
    const counters = enforcePeerLimits(torrent, {
      maxConnsPerTorrent: this.config.maxConnsPerTorrent,
      uploadSlots: this.config.uploadSlots,
    });
    if (this.config.choker !== 'tit-for-tat') {
      cooperativeChoker(torrent, { uploadSlots: this.config.uploadSlots, ...defaultChokerTiming });
    }
    // Each agent is fed by uploadSlots peers on average; one more leaves room for the origin.
    const maxSources = this.config.maxSources ?? this.config.uploadSlots + 1;
    const sources =
      state === 'downloading' && maxSources > 0
        ? limitSources(torrent, { maxSources, intervalMs: 1000 })
        : undefined;
    const repeats = state === 'seeding' ? countRepeatUploads(torrent) : undefined;
    const entry: Active = {
      torrent,
      state,
      counters,
      sources,
      repeats,
      webSeedUsed: false,
      stop: async () => {},
    };
    this.active.set(infoHash, entry);
    return entry;
  }
}
