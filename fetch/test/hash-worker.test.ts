// The hashing thread: piece SHA-1 read back from the staged file, and the whole-file sha256
// computed from disk while pieces arrive in any order, including pieces already on disk at
// start (resume); a missing piece or a wrong file size is an error, never a digest.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashWorker } from '../src/transfer/hash-worker.js';

const PIECE = 64 * 1024;
let dir: string;
let worker: HashWorker;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-hash-'));
  worker = new HashWorker();
});

afterAll(async () => {
  await worker.terminate();
  await rm(dir, { recursive: true, force: true });
});

const sha = (algo: string, data: Uint8Array) => createHash(algo).update(data).digest('hex');

describe('HashWorker', () => {
  it('checks a piece SHA-1 from the staged file, short last piece included, and refuses a piece out of range', async () => {
    const size = PIECE * 2 + 100;
    const content = randomBytes(size);
    const path = join(dir, 'pieces.img');
    await writeFile(path, content);
    const file = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount: 3 });
    const piece = (i: number) => content.subarray(i * PIECE, (i + 1) * PIECE);
    expect(await file.sha1Piece(1, sha('sha1', piece(1)))).toBe(sha('sha1', piece(1)));
    expect(await file.sha1Piece(2, '')).toBe(sha('sha1', piece(2)));
    await expect(file.sha1Piece(3, '')).rejects.toThrow(/no piece 3/);
    // A failed check leaves the file open: the whole-file hash goes on.
    file.piecesOnDisk([0, 1, 2]);
    expect(await file.digest()).toEqual({ sha256: sha('sha256', content), size });
  });

  it('feeds a checked piece next in file order into the sha256 from the same read, only if it matched', async () => {
    const size = PIECE * 3;
    const content = randomBytes(size);
    const path = join(dir, 'in-order.img');
    await writeFile(path, content);
    const piece = (i: number) => content.subarray(i * PIECE, (i + 1) * PIECE);
    const file = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount: 3 });
    await file.sha1Piece(0, sha('sha1', piece(0)));
    await file.sha1Piece(1, sha('sha1', piece(1)));
    await file.sha1Piece(2, 'f'.repeat(40)); // not what the torrent says: not fed
    await expect(file.digest()).rejects.toThrow(/incomplete: 2 of 3 pieces/);

    const again = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount: 3 });
    await again.sha1Piece(0, sha('sha1', piece(0)));
    again.piecesOnDisk([0, 1]); // as the engine reports verified pieces: 0 is not hashed twice
    await again.sha1Piece(2, sha('sha1', piece(2)));
    again.piecesOnDisk([2]); // fed by the check or by this report, whichever comes first
    expect(await again.digest()).toEqual({ sha256: sha('sha256', content), size });
  });

  it('hashes the staged file from disk as pieces land, in any order, with pieces present at start', async () => {
    const size = PIECE * 7 + 1234; // short last piece
    const content = randomBytes(size);
    const path = join(dir, 'staged.img');
    const pieceCount = Math.ceil(size / PIECE);
    // Pieces 0 and 3 are "already verified" from an earlier run; the rest arrive shuffled.
    const handle = await open(path, 'w');
    const writePiece = (i: number) =>
      handle.write(content, i * PIECE, Math.min(PIECE, size - i * PIECE), i * PIECE);
    await writePiece(0);
    await writePiece(3);
    const hasher = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount });
    hasher.piecesOnDisk([0, 3]);
    for (const i of [7, 2, 5, 1, 6, 4]) {
      await writePiece(i);
      hasher.piecesOnDisk([i]);
    }
    await handle.close();
    expect(await hasher.digest()).toEqual({ sha256: sha('sha256', content), size });
  });

  it('refuses to digest with a piece missing or when the file size differs', async () => {
    const size = PIECE * 3;
    const content = randomBytes(size);
    const path = join(dir, 'partial.img');
    await writeFile(path, content);
    const missing = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount: 3 });
    missing.piecesOnDisk([0, 2]);
    await expect(missing.digest()).rejects.toThrow(/incomplete: 1 of 3 pieces/);

    const longer = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount: 3 });
    longer.piecesOnDisk([0, 1, 2]);
    await truncate(path, size + 1);
    await expect(longer.digest()).rejects.toThrow(/has 196609 bytes, the torrent 196608/);

    const shorter = worker.hashFile({ path, size, pieceLength: PIECE, pieceCount: 3 });
    await truncate(path, size - 10);
    shorter.piecesOnDisk([0, 1, 2]);
    await expect(shorter.digest()).rejects.toThrow(/shorter than the torrent/);
  });
});
