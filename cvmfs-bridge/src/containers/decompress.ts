// Layer decompression chosen from the stream's first bytes (media types are sometimes wrong):
// gzip through node:zlib, zstd through node:zlib where Node has it (≥ 22.15) and otherwise the
// Debian `zstd` binary as a child process, uncompressed tar passed through.
import { spawn } from 'node:child_process';
import { Duplex, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { ContainerError } from './errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function sniffCompression(head: Buffer): Compression {
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

async function peek(input: Readable, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < bytes) {
    const chunk = input.read() as Buffer | null;
    if (chunk === null) {
      if (input.readableEnded || input.destroyed) break;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          input.off('readable', done);
          input.off('end', done);
          input.off('error', onError);
          resolve();
        };
        const onError = (error: Error) => {
          input.off('readable', done);
          input.off('end', done);
          reject(error);
        };
        input.once('readable', done);
        input.once('end', done);
        input.once('error', onError);
      });
      if (input.readableEnded) break;
      continue;
    }
    chunks.push(chunk);
    have += chunk.length;
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) input.unshift(head);
  return head;
}

type ZstdZlib = { createZstdDecompress?: () => Duplex };

/** A zstd decompressor: node:zlib when available, else `zstd -dc` (fails on a bad exit). */
function zstdDecompressor(): Duplex {
  const native = (zlib as unknown as ZstdZlib).createZstdDecompress;
  if (typeof native === 'function') return native();
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('error', (error) =>
    duplex.destroy(new ContainerError('LAYER_UNSAFE', `cannot run zstd: ${error.message}`)),
  );
  child.on('close', (code) => {
    if (code !== 0)
      duplex.destroy(
        new ContainerError(
          'LAYER_UNSAFE',
          `zstd could not decompress the layer: ${stderr.trim() || `exit ${code}`}`,
        ),
      );
  });
  return duplex;
}

/** Returns the decompressed view of `input` and the compression found. */
export async function decompress(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const compression = sniffCompression(await peek(input, 4));
  if (compression === 'none') return { stream: input, compression };
  const decoder = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 1 << 20 }) : zstdDecompressor();
  input.on('error', (error) => decoder.destroy(error));
  input.pipe(decoder);
  return { stream: decoder, compression };
}
