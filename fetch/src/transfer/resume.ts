// Persists which pieces are verified, so that after kill -9 or a reboot the download
// continues without re-hashing or re-fetching them. The data file is fsynced before the
// bitfield that vouches for it is written (temp + fsync + rename), so a crash can lose
// progress but never make the agent trust bytes that are not on disk.

import { open, readFile, rename, rm } from 'node:fs/promises';
import type { Torrent } from 'webtorrent';

interface ResumeRecord {
  infoHash: string;
  pieceCount: number;
  bitfieldBase64: string;
}

export const RESUME_FILE = '.resume.json';

export async function loadBitfield(
  resumePath: string,
  infoHash: string,
  pieceCount: number,
): Promise<Uint8Array | undefined> {
  let record: ResumeRecord;
  try {
    record = JSON.parse(await readFile(resumePath, 'utf8')) as ResumeRecord;
  } catch {
    return undefined; // no record or unreadable: fall back to hashing what is on disk
  }
  if (record.infoHash !== infoHash || record.pieceCount !== pieceCount) return undefined;
  const bits = Buffer.from(record.bitfieldBase64, 'base64');
  return bits.length === Math.ceil(pieceCount / 8) ? new Uint8Array(bits) : undefined;
}

export function countSetBits(bits: Uint8Array, pieceCount: number): number {
  let count = 0;
  for (let i = 0; i < pieceCount; i++) {
    if (((bits[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) count++;
  }
  return count;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * Saves the torrent's bitfield at most every `intervalMs` while pieces get verified.
 * Returns a function that flushes once more and stops.
 */
export function persistBitfield(
  torrent: Torrent,
  opts: { resumePath: string; dataPath: string; intervalMs: number; onError: (err: unknown) => void },
): () => Promise<void> {
  let dirty = false;
  let writing: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (!dirty || torrent.destroyed) return writing;
    dirty = false;
    const record: ResumeRecord = {
      infoHash: torrent.infoHash,
      pieceCount: torrent.pieces.length,
      bitfieldBase64: Buffer.from(torrent.bitfield.buffer).toString('base64'),
    };
    writing = writing
      .then(() => fsyncPath(opts.dataPath))
      .then(() => writeDurably(opts.resumePath, JSON.stringify(record)))
      .catch(opts.onError);
    return writing;
  };

  torrent.on('verified', () => {
    dirty = true;
  });
  const timer = setInterval(() => void flush(), opts.intervalMs);
  timer.unref();

  return async () => {
    clearInterval(timer);
    await flush();
  };
}

export async function removeResumeRecord(resumePath: string): Promise<void> {
  await rm(resumePath, { force: true });
  await rm(`${resumePath}.tmp`, { force: true });
}
