// The parts of bittorrent-dht 11 (untyped ESM) that TrustSwarm's tests use: a site DHT node.
declare module 'bittorrent-dht' {
  import type { EventEmitter } from 'node:events';
  export interface DHTOptions {
    /** false: a first node of its own network, bootstrapping from nobody */
    bootstrap?: string[] | false;
    host?: string | false;
  }
  export interface DHTPeer {
    host: string;
    port: number;
  }
  export default class DHT extends EventEmitter {
    constructor(opts?: DHTOptions);
    listen(port: number, address: string, onListening?: () => void): void;
    address(): { address: string; port: number };
    destroy(cb?: () => void): void;
    on(event: 'announce', listener: (peer: DHTPeer, infoHash: Buffer) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
