// The parts of webtorrent 3 (untyped ESM) that TrustSwarm uses; the packages ship no maintained types.

declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events';

  export interface BitField {
    buffer: Uint8Array;
    get(index: number): boolean;
    set(index: number, value?: boolean): void;
  }

  export interface Wire extends EventEmitter {
    type: string;
    peerId: string;
    remoteAddress?: string;
    remotePort?: number;
    destroyed: boolean;
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    isSeeder: boolean;
    peerPieces: BitField;
    uploaded: number;
    downloaded: number;
    choke(): void;
    unchoke(): void;
    destroy(): void;
  }

  export interface TorrentFile {
    name: string;
    path: string;
    length: number;
  }

  export interface AddOptions {
    path?: string;
    skipVerify?: boolean;
    bitfield?: Uint8Array;
    strategy?: 'rarest' | 'sequential';
    uploads?: number | false;
    storeCacheSlots?: number;
    /** a chunk-store constructor (abstract-chunk-store interface): new store(pieceLength, storeOpts) */
    store?: new (
      chunkLength: number,
      opts: never,
    ) => unknown;
    /** merged into the options webtorrent passes to `store` (it adds path, files, length) */
    storeOpts?: Record<string, unknown>;
    private?: boolean;
    announce?: string[];
    urlList?: string[];
    maxWebConns?: number;
    destroyStoreOnDestroy?: boolean;
  }

  export interface Torrent extends EventEmitter {
    infoHash: string;
    name: string;
    length: number;
    pieceLength: number;
    lastPieceLength: number;
    pieces: unknown[];
    bitfield: BitField;
    wires: Wire[];
    files: TorrentFile[];
    urlList: string[];
    path: string;
    done: boolean;
    ready: boolean;
    destroyed: boolean;
    progress: number;
    downloaded: number;
    uploaded: number;
    received: number;
    downloadSpeed: number;
    uploadSpeed: number;
    numPeers: number;
    /** the chunk store, one chunk per piece; null until metadata */
    store: { get(index: number, cb: (err: Error | null, buf?: Uint8Array) => void): void };
    addPeer(addr: string): boolean;
    addWebSeed(url: string): void;
    removePeer(id: string): void;
    destroy(opts?: { destroyStore?: boolean }, cb?: (err?: Error | null) => void): void;
  }

  export interface ClientOptions {
    maxConns?: number;
    nodeId?: string;
    peerId?: string;
    torrentPort?: number;
    dhtPort?: number;
    tracker?: false | Record<string, unknown>;
    dht?: false | { bootstrap?: string[] | false; host?: string | false };
    lsd?: boolean;
    utPex?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    utp?: boolean;
    webSeeds?: boolean;
    secure?: boolean | number;
    downloadLimit?: number;
    uploadLimit?: number;
    seedOutgoingConnections?: boolean;
  }

  export default class WebTorrent extends EventEmitter {
    constructor(opts?: ClientOptions);
    peerId: string;
    torrents: Torrent[];
    listening: boolean;
    dht: false | (EventEmitter & { address(): { port: number } | null; listening: boolean });
    add(torrentId: Uint8Array | string, opts?: AddOptions, onTorrent?: (torrent: Torrent) => void): Torrent;
    seed(
      input: string,
      opts?: AddOptions & { announceList?: string[][] },
      onSeed?: (torrent: Torrent) => void,
    ): Torrent;
    get(infoHash: string): Promise<Torrent | null>;
    remove(
      infoHash: string,
      opts?: { destroyStore?: boolean },
      cb?: (err?: Error | null) => void,
    ): Promise<void>;
    throttleDownload(rateBytesPerSecond: number): void;
    throttleUpload(rateBytesPerSecond: number): void;
    address(): { address: string; family: string; port: number } | null;
    destroy(cb?: (err?: Error | null) => void): void;
  }
}
