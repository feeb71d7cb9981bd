// One-read hashing at piece boundaries: sha256, sha512 and every piece's SHA-1 must equal
// hashing the whole buffer directly, for sizes around the piece length.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFile, pieceLengthFor } from '../src/lib/hash-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tsw-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PIECE = 64 * 1024;

describe('hashFile', () => {
  for (const size of [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 7, 8 * PIECE]) {
    it(`matches direct hashing for ${size} bytes`, async () => {
      const bytes = randomBytes(size);
      const path = join(dir, `f${size}`);
      writeFileSync(path, bytes);
      const d = await hashFile(path, { sha512: true, pieceLengthBytes: PIECE });
      const pieces: Buffer[] = [];
      for (let i = 0; i < size; i += PIECE)
        pieces.push(
          createHash('sha1')
            .update(bytes.subarray(i, i + PIECE))
            .digest(),
        );
      expect(d.sizeBytes).toBe(size);
      expect(d.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(d.sha512).toBe(createHash('sha512').update(bytes).digest('hex'));
      expect(d.pieces.equals(Buffer.concat(pieces))).toBe(true);
    });
  }

  it('chooses 4 MiB pieces up to 16 GiB and 8 MiB above', () => {
    expect(pieceLengthFor(1)).toBe(4 * 1024 * 1024);
    expect(pieceLengthFor(16 * 1024 ** 3)).toBe(4 * 1024 * 1024);
    expect(pieceLengthFor(30 * 1024 ** 3)).toBe(8 * 1024 * 1024);
  });
});
