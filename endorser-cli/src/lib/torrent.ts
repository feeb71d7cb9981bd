// A BitTorrent v1 single-file .torrent from the piece hashes computed while hashing the
// artifact, so the file is read once. Announce list and web seed come from the endorser's
// config only (never a library's default public trackers). No creation date: the same
// artifact and config give the same bytes.

import { createHash } from 'node:crypto';
import bencode from 'bencode';
import type { FileDigests } from './hash-file.js';

export interface TorrentOptions {
  fileName: string;
  announce: string[];
  /** Full web-seed URL(s) of this artifact (BEP 19). */
  webSeeds: string[];
}

export interface BuiltTorrent {
  bytes: Buffer;
  infoHash: string;
  sha256: string;
}

export const CREATED_BY = 'tsw-endorse';

export function buildTorrent(digests: FileDigests, options: TorrentOptions): BuiltTorrent {
  const info = {
    length: digests.sizeBytes,
    name: options.fileName,
    'piece length': digests.pieceLengthBytes,
    pieces: digests.pieces,
  };
  const torrent: Record<string, unknown> = { info, 'created by': CREATED_BY };
  if (options.announce.length > 0) {
    torrent.announce = options.announce[0];
    torrent['announce-list'] = options.announce.map((url) => [url]);
  }
  if (options.webSeeds.length > 0) torrent['url-list'] = options.webSeeds;
  const bytes = Buffer.from(bencode.encode(torrent));
  return {
    bytes,
    infoHash: createHash('sha1').update(bencode.encode(info)).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The info hash of .torrent bytes (re-encoding the decoded info dictionary). */
export function infoHashOf(torrentBytes: Uint8Array): string {
  const decoded = bencode.decode(torrentBytes) as { info?: unknown };
  if (!decoded || typeof decoded !== 'object' || !decoded.info) throw new Error('not a .torrent file');
  return createHash('sha1').update(bencode.encode(decoded.info)).digest('hex');
}
