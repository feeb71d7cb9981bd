// The parts of parse-torrent 11 (untyped ESM) that TrustSwarm uses.
declare module 'parse-torrent' {
  export interface ParsedTorrent {
    infoHash: string;
    name: string;
    length: number;
    pieceLength: number;
    lastPieceLength: number;
    pieces: string[];
    files: { name: string; path: string; length: number; offset: number }[];
    announce: string[];
    urlList: string[];
    private?: boolean;
  }
  export default function parseTorrent(torrentId: Uint8Array | string): Promise<ParsedTorrent>;
  export function toTorrentFile(parsed: Partial<ParsedTorrent> & Record<string, unknown>): Uint8Array;
}
