// Crash-safe file writes: data goes to a temp file beside the target, is fsynced, then
// renamed over the target, so readers see the old or the new content, never a mix.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function writeFileAtomic(target: string, data: Buffer | string, mode = 0o644): void {
  const temp = join(dirname(target), `.tmp.${randomBytes(6).toString('hex')}`);
  const fd = openSync(temp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  renameSync(temp, target);
  fsyncDir(dirname(target));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
