// The small parts of untyped ESM dependencies this package uses.
declare module 'bittorrent-tracker/server' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface TrackerSwarm {
    complete: number;
    incomplete: number;
    peers: { length: number };
  }
  export interface TrackerServerOptions {
    http?: boolean;
    udp?: boolean;
    ws?: boolean;
    stats?: boolean;
    interval?: number;
    trustProxy?: boolean;
    peersCacheLength?: number;
    filter?: (infoHash: string, params: Record<string, unknown>, cb: (err?: Error | null) => void) => void;
  }
  export default class Server extends EventEmitter {
    constructor(options?: TrackerServerOptions);
    torrents: Record<string, TrackerSwarm | undefined>;
    onHttpRequest(
      req: IncomingMessage,
      res: ServerResponse,
      opts?: { action?: 'announce' | 'scrape'; trustProxy?: boolean },
    ): void;
    close(cb?: () => void): void;
  }
}

declare module 'parse-torrent' {
  export interface ParsedTorrent {
    infoHash: string;
    name?: string;
    length?: number;
    pieceLength?: number;
    announce: string[];
    urlList: string[];
  }
  export default function parseTorrent(input: Uint8Array | string): Promise<ParsedTorrent>;
}

declare module 'create-torrent' {
  export interface CreateTorrentOptions {
    name?: string;
    announceList?: string[][];
    urlList?: string[];
    pieceLength?: number;
    createdBy?: string;
    creationDate?: number;
    private?: boolean;
  }
  export default function createTorrent(
    input: Buffer | string | (Buffer | string)[],
    options: CreateTorrentOptions,
    cb: (err: Error | null, torrent: Uint8Array) => void,
  ): void;
}
