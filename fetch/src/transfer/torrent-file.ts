// Parses and checks a .torrent before the engine touches it: the bytes must already match
// the catalog's sha256 (checked by the caller); here we check what the catalog states about
// it (info hash) and what the store relies on (one file with a safe name).

import parseTorrent from 'parse-torrent';
import { errorMessage, FetchError } from '../errors.js';

export interface TorrentInfo {
  infoHash: string;
  fileName: string;
  sizeBytes: number;
  pieceLengthBytes: number;
  pieceCount: number;
  webSeedUrls: string[];
  announce: string[];
}

// The fields we read, declared here: other packages declare 'parse-torrent' too, and in the
// workspace-wide test typecheck those ambient declarations merge into overloads.
interface ParsedFields {
  infoHash: string;
  name: string;
  length: number;
  pieceLength: number;
  pieces: string[];
  files: { path: string; length: number }[];
  announce: string[];
  urlList: string[];
}

const SAFE_NAME = /^[A-Za-z0-9._+-][A-Za-z0-9._+@=-]{0,254}$/;

export async function readTorrentInfo(bytes: Uint8Array, expectedInfoHash?: string): Promise<TorrentInfo> {
  let parsed: ParsedFields;
  try {
    parsed = (await parseTorrent(bytes)) as unknown as ParsedFields;
  } catch (err) {
    throw new FetchError('TORRENT_INVALID', `torrent file cannot be parsed: ${errorMessage(err)}`);
  }
  if (expectedInfoHash !== undefined && parsed.infoHash !== expectedInfoHash.toLowerCase()) {
    throw new FetchError(
      'TORRENT_MISMATCH',
      `torrent info hash ${parsed.infoHash} differs from the catalog's ${expectedInfoHash}`,
    );
  }
  if (parsed.files.length !== 1) {
    throw new FetchError(
      'TORRENT_INVALID',
      `torrent ${parsed.infoHash} has ${parsed.files.length} files; one expected`,
    );
  }
  if (!SAFE_NAME.test(parsed.name) || parsed.name === '.' || parsed.name === '..') {
    throw new FetchError('TORRENT_INVALID', `torrent ${parsed.infoHash} has an unsafe file name`);
  }
  return {
    infoHash: parsed.infoHash,
    fileName: parsed.name,
    sizeBytes: parsed.length,
    pieceLengthBytes: parsed.pieceLength,
    pieceCount: parsed.pieces.length,
    webSeedUrls: parsed.urlList.filter((u) => /^https?:\/\//.test(u)),
    announce: parsed.announce,
  };
}
