// A deterministic tar of a directory (tar-stream): entries sorted by path (bytewise),
// owners 0/0 without names, times 0 and modes normalised to 0755/0644 unless `preserve`,
// so the same tree always gives the same bytes and the same sha256. Streams file contents;
// memory does not grow with the tree's size.

import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { CliError, fsError } from './errors.js';

/** ustar's size field holds 11 octal digits; larger files would need pax sizes. */
const MAX_TAR_FILE_BYTES = 8 * 1024 ** 3 - 1;

interface TreeEntry {
  relPath: string;
  absPath: string;
}

async function walk(root: string, rel = ''): Promise<TreeEntry[]> {
  const dir = join(root, rel);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw fsError(err, `snapshot directory ${dir}`);
  }
  const out: TreeEntry[] = [];
  for (const name of names) {
    const relPath = rel ? posix.join(rel, name) : name;
    const absPath = join(root, relPath);
    out.push({ relPath, absPath });
    const st = await lstat(absPath);
    if (st.isDirectory()) out.push(...(await walk(root, relPath)));
  }
  return out;
}

function byteOrder(a: TreeEntry, b: TreeEntry): number {
  return Buffer.compare(Buffer.from(a.relPath), Buffer.from(b.relPath));
}

export interface TarOptions {
  preserve?: boolean;
}

/** Writes the tar of `root` to `outPath`; returns the number of entries. */
export async function writeDeterministicTar(
  root: string,
  outPath: string,
  options: TarOptions = {},
): Promise<number> {
  const rootStat = await lstat(root).catch((err: unknown) => {
    throw fsError(err, `snapshot directory ${root}`);
  });
  if (!rootStat.isDirectory()) throw new CliError('USAGE', `${root} is not a directory`);
  const entries = (await walk(root)).sort(byteOrder);
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(outPath, { flags: 'wx' }));
  try {
    for (const e of entries) {
      const st = await lstat(e.absPath);
      const common = options.preserve
        ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime }
        : { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) };
      const exec = (st.mode & 0o111) !== 0;
      if (st.isDirectory()) {
        pack.entry({ name: `${e.relPath}/`, type: 'directory', mode: 0o755, ...common });
      } else if (st.isSymbolicLink()) {
        pack.entry({
          name: e.relPath,
          type: 'symlink',
          linkname: await readlink(e.absPath),
          mode: 0o777,
          ...common,
        });
      } else if (st.isFile()) {
        if (st.size > MAX_TAR_FILE_BYTES)
          throw new CliError(
            'ARTIFACT_UNREADABLE',
            `${e.absPath}: files over 8 GiB are not supported in snapshots`,
          );
        // Open first so an unreadable file fails with its name before any byte is written.
        const handle = await open(e.absPath, 'r').catch((err: unknown) => {
          throw new CliError('ARTIFACT_UNREADABLE', fsError(err, e.absPath).message);
        });
        await handle.close();
        const sink = pack.entry({
          name: e.relPath,
          type: 'file',
          size: st.size,
          mode: exec ? 0o755 : 0o644,
          ...common,
        });
        await pipeline(createReadStream(e.absPath), sink);
      } else {
        throw new CliError(
          'ARTIFACT_UNREADABLE',
          `${e.absPath}: unsupported file type (socket, device or FIFO)`,
        );
      }
    }
    pack.finalize();
    await written;
  } catch (err) {
    pack.destroy();
    await written.catch(() => {});
    throw err;
  }
  return entries.length;
}

/** A tar archive starts with a 512-byte header carrying "ustar" at offset 257. */
export async function looksLikeTar(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const header = Buffer.alloc(512);
    const { bytesRead } = await handle.read(header, 0, 512, 0);
    return bytesRead === 512 && header.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await handle.close();
  }
}
