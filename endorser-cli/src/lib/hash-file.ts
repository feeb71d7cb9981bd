// One read of an artifact gives everything `add` records: size, sha256 (and sha512 when
// asked) and the SHA-1 of every BitTorrent piece. Memory stays at three piece buffers
// whatever the file size: the next piece is read while the current one is hashed.

import { createHash } from 'node:crypto';
import { open, stat as statPath } from 'node:fs/promises';
import { CliError, fsError } from './errors.js';
import { PieceHasher } from './piece-hasher.js';

const MiB = 1024 * 1024;
/** Artifacts up to this size get 4 MiB pieces, larger ones 8 MiB (DESIGN.md: 4–8 MiB). */
export const LARGE_ARTIFACT_BYTES = 16 * 1024 * MiB;

/** Piece buffers in flight: one being read, one being hashed, one spare. Memory = 3 pieces. */
const SLOT_COUNT = 3;

export function pieceLengthFor(sizeBytes: number): number {
  return sizeBytes > LARGE_ARTIFACT_BYTES ? 8 * MiB : 4 * MiB;
}

export interface FileDigests {
  sizeBytes: number;
  sha256: string;
  sha512: string | undefined;
  pieceLengthBytes: number;
  /** Concatenated 20-byte SHA-1 digests of the pieces. */
  pieces: Buffer;
  mtimeMs: number;
}

export interface HashOptions {
  sha512?: boolean;
  pieceLengthBytes?: number;
  onProgress?: (doneBytes: number) => void;
}

export async function hashFile(path: string, options: HashOptions = {}): Promise<FileDigests> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // Check before opening: opening a FIFO for reading would block until someone writes.
    if (!(await statPath(path)).isFile())
      throw new CliError('ARTIFACT_UNREADABLE', `artifact ${path}: not a regular file`);
    handle = await open(path, 'r');
  } catch (err) {
    throw err instanceof CliError ? err : fsError(err, `artifact ${path}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new CliError('ARTIFACT_UNREADABLE', `artifact ${path}: not a regular file`);
    const sizeBytes = stat.size;
    const pieceLengthBytes = options.pieceLengthBytes ?? pieceLengthFor(sizeBytes);
    const sha256 = createHash('sha256');
    const sha512 = options.sha512 ? createHash('sha512') : undefined;
    const pieceCount = Math.ceil(sizeBytes / pieceLengthBytes);
    const pieces = Buffer.alloc(pieceCount * 20);
    const hasher = new PieceHasher(SLOT_COUNT, pieceLengthBytes);
    // Fills a whole piece (a read may return less than asked) starting at `position`.
    const readPiece = async (buffer: Buffer, position: number): Promise<number> => {
      let filled = 0;
      const want = Math.min(pieceLengthBytes, sizeBytes - position);
      while (filled < want) {
        const { bytesRead } = await handle.read(buffer, filled, want - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled;
    };
    // Pipeline per piece i: read i+1 (thread pool) ‖ SHA-1 of i (worker) ‖ sha256 of i (here).
    const slotOf = (i: number) => hasher.slots[i % SLOT_COUNT] as Buffer;
    const sha1Of: Array<Promise<void>> = [];
    try {
      let doneBytes = 0;
      let next = pieceCount > 0 ? readPiece(slotOf(0), 0) : undefined;
      for (let i = 0; i < pieceCount; i++) {
        const filled = await (next as Promise<number>);
        const expected = Math.min(pieceLengthBytes, sizeBytes - i * pieceLengthBytes);
        if (filled !== expected)
          throw new CliError('ARTIFACT_CHANGED', `artifact ${path} changed size while it was read`);
        if (i + 1 < pieceCount) {
          await sha1Of[i + 1 - SLOT_COUNT]; // the slot about to be refilled must be hashed
          next = readPiece(slotOf(i + 1), (i + 1) * pieceLengthBytes);
        }
        sha1Of[i] = hasher.digest(i % SLOT_COUNT, filled).then((d) => {
          d.copy(pieces, i * 20);
        });
        const chunk = slotOf(i).subarray(0, filled);
        sha256.update(chunk);
        sha512?.update(chunk);
        doneBytes += filled;
        options.onProgress?.(doneBytes);
      }
      await Promise.all(sha1Of);
    } finally {
      await hasher.close();
    }
    const after = await handle.stat();
    if (after.size !== sizeBytes || after.mtimeMs !== stat.mtimeMs)
      throw new CliError('ARTIFACT_CHANGED', `artifact ${path} was modified while it was read`);
    return {
      sizeBytes,
      sha256: sha256.digest('hex'),
      sha512: sha512?.digest('hex'),
      pieceLengthBytes,
      pieces,
      mtimeMs: stat.mtimeMs,
    };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(
      'ARTIFACT_UNREADABLE',
      `artifact ${path}: ${fsError(err, 'read').message.replace(/^read: /, '')}`,
    );
  } finally {
    await handle.close();
  }
}
