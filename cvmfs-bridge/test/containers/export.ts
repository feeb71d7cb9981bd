// Copies a subtree of a published revision onto local disk through the reader (directories,
// files with modes, symlinks verbatim), so tools that need a real tree (podman) can use it.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RepositoryReader } from '../../src/reader/reader.js';

export async function exportTree(reader: RepositoryReader, from: string, to: string): Promise<void> {
  mkdirSync(to, { recursive: true });
  for (const d of await reader.list(from)) {
    const src = `${from}/${d.name}`;
    const dst = join(to, d.name);
    if (d.kind === 'dir') {
      await exportTree(reader, src, dst);
      chmodSync(dst, d.mode & 0o7777);
    } else if (d.kind === 'symlink') symlinkSync(d.symlink ?? '', dst);
    else if (d.kind === 'file') writeFileSync(dst, await reader.readFile(src), { mode: d.mode & 0o7777 });
  }
}
