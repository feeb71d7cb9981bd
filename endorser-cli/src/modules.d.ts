// Minimal types for untyped dependencies used by the tests and the benchmark.
declare module 'create-torrent' {
  export default function createTorrent(
    input: string | string[],
    opts: Record<string, unknown>,
    cb: (err: Error | null, torrent: Uint8Array) => void,
  ): void;
}
declare module 'parse-torrent' {
  export default function parseTorrent(
    torrent: Uint8Array | string,
  ): Promise<{ infoHash: string } & Record<string, unknown>>;
}
