// One layer blob → `.layers/D[0:2]/DIGEST/layerfs` in an open transaction: the blob streams
// from the registry through its digest check, decompression and the DiffID hash into a tar
// reader; every member passes the layer policy before it is written. Whiteout files are kept
// as they are in the layer (`.wh.NAME`, `.wh..wh..opq`); flattening interprets them.
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import type { EntryMeta, Transaction } from '../writer/transaction.js';
import type { ContainerConfig } from './config.js';
import { type Compression, decompress } from './decompress.js';
import { DigestStream } from './digest-stream.js';
import { ContainerError } from './errors.js';
import {
  isIgnoredName,
  LayerPaths,
  memberComponents,
  OPAQUE_WHITEOUT,
  permissionBits,
  WHITEOUT_PREFIX,
} from './layer-policy.js';

export interface LayerRecord {
  readonly digest: string;
  readonly diffId: string;
  readonly mediaType: string;
  readonly compression: Compression;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
  readonly entries: number;
  readonly files: number;
  readonly whiteouts: number;
  readonly opaqueDirs: number;
  readonly skipped: { devices: number; markers: number };
  /** Directories the layer created without naming them (their metadata is not the layer's). */
  readonly implicitDirs: string[];
}

export interface LayerSource {
  readonly digest: string;
  readonly diffId: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** The blob stream (already hashing) and the check to run after it ended. */
  readonly open: () => Promise<{ stream: DigestStream; check: () => void }>;
}

function xattrsOf(h: Header): Map<string, Buffer> | undefined {
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(h.pax ?? {})) {
    // Only user.* attributes describe content; security.*/trusted.* describe the build host.
    if (key.startsWith('SCHILY.xattr.user.'))
      xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value, 'latin1'));
  }
  return xattrs.size > 0 ? xattrs : undefined;
}

// Files up to this size go to the workers as bytes (the transaction bounds the bytes in flight);
// staging each one to disk, then reading it back twice (hash, compress), costs more than it.
const IN_MEMORY_FILE_BYTES = 64 * 1024 * 1024;

/** A member's bytes in one Buffer of its own (handed to a worker without another copy). */
function readEntry(entry: Readable, sizeBytes: number): Promise<Buffer> {
  // Events rather than an async iterator per member: thousands of small members per layer.
  return new Promise((resolve, reject) => {
    const bytes = Buffer.allocUnsafeSlow(sizeBytes);
    let offset = 0;
    entry.on('data', (chunk: Buffer) => {
      if (offset + chunk.length > sizeBytes) {
        entry.destroy(new ContainerError('LAYER_UNSAFE', 'a member is longer than its header says'));
        return;
      }
      chunk.copy(bytes, offset);
      offset += chunk.length;
    });
    entry.once('error', reject);
    entry.once('end', () => {
      if (offset === sizeBytes) resolve(bytes);
      else reject(new ContainerError('LAYER_UNSAFE', 'a member is shorter than its header says'));
    });
  });
}

async function drainAndCheck(blob: DigestStream, check: () => void): Promise<void> {
  if (!blob.readableEnded) {
    if (blob.destroyed) return; // the blob itself failed (size limit, network): that error stands
    blob.unpipe();
    blob.resume();
    try {
      await finished(blob);
    } catch {
      return;
    }
  }
  check();
}

export async function ingestLayer(
  tx: Transaction,
  layerfs: string,
  source: LayerSource,
  config: ContainerConfig,
): Promise<LayerRecord> {
  const { stream: blob, check: checkBlob } = await source.open();
  const { stream: tarBytes, compression } = await decompress(blob);
  const diff = new DigestStream(`layer ${source.digest} (uncompressed)`, config.maxLayerUncompressedBytes);
  tarBytes.on('error', (error) => diff.destroy(error));
  tarBytes.pipe(diff);
  const archive = extract();
  diff.on('error', (error) => archive.destroy(error));
  diff.pipe(archive as unknown as NodeJS.WritableStream);

  const paths = new LayerPaths();
  const counts = { entries: 0, files: 0, whiteouts: 0, opaqueDirs: 0, devices: 0, markers: 0 };
  await tx.addDirectory(layerfs, { mode: 0o755 });
  try {
    for await (const entry of archive) {
      const h = entry.header;
      if ((h.type as string) === 'pax-global-header') {
        entry.resume();
        continue;
      }
      if (++counts.entries > config.maxLayerEntries)
        throw new ContainerError(
          'LIMIT_EXCEEDED',
          `layer ${source.digest} has more than ${config.maxLayerEntries} members`,
        );
      const parts = memberComponents(h.name, config);
      if (parts.length === 0) {
        entry.resume(); // the layer's own root ("./"): the flat root keeps its defaults
        continue;
      }
      const rel = parts.join('/');
      const base = parts[parts.length - 1] as string;
      if (isIgnoredName(base)) {
        counts.markers++;
        entry.resume();
        continue;
      }
      const whiteout = base.startsWith(WHITEOUT_PREFIX);
      if (whiteout && paths.blockedBy(parts)) {
        // A whiteout below something this layer made a non-directory (umoci writes these when a
        // directory became a file): the replacement already hides everything below; skip it.
        entry.resume();
        continue;
      }
      // Rows of paths new to this (fresh) layer tree are written without lookups; a path named
      // again goes through the general methods, which replace what is there.
      const implied = paths.checkParents(parts, h.name);
      // A skipped device writes nothing, so it implies no directory (a later member may).
      if (h.type === 'character-device' || h.type === 'block-device') paths.forget(implied);
      else for (const dir of implied) tx.addNewDirectory(`${layerfs}/${dir}`);
      const isNew = paths.kindOf(rel) === undefined;
      const path = `${layerfs}/${rel}`;
      const meta: EntryMeta = {
        mode: permissionBits(h.mode ?? 0o644, h.name, config),
        mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        ...(xattrsOf(h) ? { xattrs: xattrsOf(h) } : {}),
      };
      if (whiteout) {
        if (base === OPAQUE_WHITEOUT) counts.opaqueDirs++;
        else counts.whiteouts++;
      }
      switch (h.type) {
        case 'file':
        case 'contiguous-file':
          paths.record(rel, 'file');
          {
            const size = h.size ?? 0;
            const content =
              size <= IN_MEMORY_FILE_BYTES
                ? await readEntry(entry as unknown as Readable, size)
                : (entry as unknown as Readable);
            if (isNew) await tx.addNewFile(path, content, meta);
            else await tx.addFile(path, content, meta);
          }
          counts.files++;
          break;
        case 'directory':
          entry.resume();
          paths.record(rel, 'dir');
          if (isNew) tx.addNewDirectory(path, meta);
          else await tx.addDirectory(path, meta);
          break;
        case 'symlink': {
          entry.resume();
          const target = h.linkname ?? '';
          if (target.length === 0 || target.includes('\0') || Buffer.byteLength(target) > config.maxPathBytes)
            throw new ContainerError(
              'LAYER_UNSAFE',
              `symlink ${h.name} has an empty, invalid or too long target`,
            );
          paths.record(rel, 'symlink');
          // Targets are kept verbatim: they resolve inside the container's root at run time.
          if (isNew) tx.addNewSymlink(path, target, meta);
          else await tx.addSymlink(path, target, meta);
          break;
        }
        case 'link': {
          entry.resume();
          const targetRel = memberComponents(h.linkname ?? '', config).join('/');
          if (paths.kindOf(targetRel) !== 'file')
            throw new ContainerError(
              'LAYER_UNSAFE',
              `hard link ${h.name} -> ${h.linkname} names no earlier regular file of the layer`,
            );
          paths.record(rel, 'file');
          await tx.addHardLink(path, `${layerfs}/${targetRel}`);
          break;
        }
        case 'fifo':
          entry.resume();
          paths.record(rel, 'special');
          if (isNew) tx.addNewSpecial(path, 'fifo', 0, meta);
          else await tx.addSpecial(path, 'fifo', 0, meta);
          break;
        case 'character-device':
        case 'block-device':
          entry.resume();
          if (config.devicePolicy === 'reject')
            throw new ContainerError('LAYER_UNSAFE', `member ${h.name} is a device node (policy: reject)`);
          counts.devices++;
          break;
        default:
          entry.resume();
          throw new ContainerError('LAYER_UNSAFE', `member ${h.name} has unsupported type ${h.type}`);
      }
    }
    await finished(diff);
  } catch (error) {
    archive.destroy();
    // A stream that does not decompress is first checked against its digest: a blob altered
    // in transit is reported as DIGEST_MISMATCH, not as a bad archive.
    await drainAndCheck(blob, checkBlob);
    blob.destroy();
    if (error instanceof ContainerError) throw error;
    throw new ContainerError(
      'LAYER_UNSAFE',
      `layer ${source.digest} is not a readable tar: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  checkBlob();
  diff.verify(source.diffId);
  return {
    digest: source.digest,
    diffId: source.diffId,
    mediaType: source.mediaType,
    compression,
    compressedBytes: blob.bytes,
    uncompressedBytes: diff.bytes,
    entries: counts.entries,
    files: counts.files,
    whiteouts: counts.whiteouts,
    opaqueDirs: counts.opaqueDirs,
    skipped: { devices: counts.devices, markers: counts.markers },
    implicitDirs: [...paths.implicitDirs].sort(),
  };
}
