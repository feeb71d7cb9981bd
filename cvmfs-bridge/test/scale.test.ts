// Heavy round trips: one 2 GiB file (a generated pattern, streamed, never held in memory)
// and 100,000 small files.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyRevision } from '../src/reader/verify-all.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
// Deleting 100,000+ objects can take minutes on a busy disk: remove them in the background.
afterEach(() => {
  if (t) spawn('rm', ['-rf', t.base], { detached: true, stdio: 'ignore' }).unref();
  t = undefined;
});

const GiB = 1024 ** 3;

/** 2 GiB of a pattern that changes every block, so it is neither constant nor random. */
function patternStream(totalBytes: number, blockBytes = 1 << 20): Readable {
  let produced = 0;
  let block = 0;
  return new Readable({
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const size = Math.min(blockBytes, totalBytes - produced);
      const chunk = Buffer.alloc(size);
      const header = Buffer.from(`block ${block} of the pattern stream; `);
      for (let at = 0; at < size; at += header.length)
        header.copy(chunk, at, 0, Math.min(header.length, size - at));
      chunk.writeUInt32LE(block, 0);
      produced += size;
      block++;
      this.push(chunk);
    },
  });
}

describe('scale', () => {
  it('round-trips a 2 GiB file', { timeout: 600_000 }, async () => {
    t = createTestRepo();
    const sizeBytes = 2 * GiB + 12_345;
    const source = join(t.base, 'big.bin');
    const expected = createHash('sha1');
    await pipeline(
      patternStream(sizeBytes),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          expected.update(c);
          yield c;
        }
      },
      createWriteStream(source),
    );
    const expectedHex = expected.digest('hex');
    await withTransaction(t.repo, async (tx) => tx.addFile('/images/big.bin', { file: source }));

    const reader = await t.reader();
    try {
      const entry = await reader.lookup('/images/big.bin');
      expect(entry).toMatchObject({ kind: 'file', sizeBytes, compressed: true });
      const actual = createHash('sha1');
      await reader.streamFile(
        '/images/big.bin',
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            actual.update(chunk);
            cb();
          },
        }),
      );
      expect(actual.digest('hex')).toBe(expectedHex);
      expect((await reader.catalogCounters('')).self.file_size).toBe(BigInt(sizeBytes));
    } finally {
      reader.close();
    }
  });

  it('round-trips 100,000 small files', { timeout: 600_000 }, async () => {
    t = createTestRepo();
    const result = await withTransaction(t.repo, async (tx) => {
      for (let d = 0; d < 100; d++) {
        for (let f = 0; f < 1000; f++)
          await tx.addFile(`/many/d${d}/f${f}.txt`, Buffer.from(`small file ${d}/${f}\n`));
      }
    });
    expect(result.filesStored).toBe(100_000);
    const reader = await t.reader();
    try {
      const report = await verifyRevision(reader);
      expect(report).toMatchObject({ files: 100_000, objectsChecked: 100_000, entries: 100_101 });
      expect((await reader.readFile('/many/d57/f998.txt')).toString()).toBe('small file 57/998\n');
      expect((await reader.catalogCounters('')).self.regular).toBe(100_000n);
    } finally {
      reader.close();
    }
  });
});
