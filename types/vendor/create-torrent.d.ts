// The parts of create-torrent 6 (untyped ESM) that TrustSwarm uses.
declare module 'create-torrent' {
  export interface CreateTorrentOptions {
    name?: string;
    /** Always pass one: without it create-torrent adds public trackers. */
    announceList?: string[][];
    urlList?: string[];
    pieceLength?: number;
    private?: boolean;
    createdBy?: string;
    creationDate?: Date | number;
  }
  export default function createTorrent(
    input: Buffer | string | (Buffer | string)[],
    opts: CreateTorrentOptions,
    cb: (err: Error | null, torrent: Uint8Array) => void,
  ): void;
}
