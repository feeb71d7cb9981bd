// The parts of bittorrent-tracker 11 (untyped ESM) that TrustSwarm uses.
declare module 'bittorrent-tracker' {
  import type { EventEmitter } from 'node:events';
  export interface ServerOptions {
    http?: boolean;
    udp?: boolean;
    ws?: boolean;
    stats?: boolean;
    interval?: number;
    filter?: (infoHash: string, params: unknown, cb: (err: Error | null) => void) => void;
  }
  export class Server extends EventEmitter {
    constructor(opts?: ServerOptions);
    http: import('node:http').Server | null;
    listen(port: number, hostname: string, onListening?: () => void): void;
    close(cb?: () => void): void;
  }
}
declare module 'bittorrent-tracker/server' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface TrackerPeer {
    peerId: string;
    complete: boolean;
  }
  export interface TrackerSwarm {
    complete: number;
    incomplete: number;
    /** an LRU keyed by "ip:port" (HTTP) or peer id (WebSocket) */
    peers: { length: number; keys: string[]; peek(key: string): TrackerPeer | undefined };
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
