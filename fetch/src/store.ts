// The one owner of the agent's files: staging → verified → installed. A file is visible
// under images/ only after its whole-file sha256 matched, and it appears there by one
// atomic rename of its directory, so a reader never sees a partial or corrupt image.
//
//   DATA/staging/<infoHash>/<file>      downloading (+ .resume.json)
//   DATA/verified/<entryId>/<file>      hashed, about to be installed
//   DATA/images/<entryId>/<file>        installed, seeded
//   DATA/archive/<entryId>-<time>/      revoked or expired, kept when lifecycle says archive

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorMessage, FetchError } from './errors.js';

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function requireSafeId(kind: string, id: string): string {
  if (!SAFE_ID.test(id)) throw new FetchError('STORE_FAILED', `unsafe ${kind} ${JSON.stringify(id)}`);
  return id;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

export class ImageStore {
  constructor(readonly dataDir: string) {}

  stagingDir(infoHash: string): string {
    return join(this.dataDir, 'staging', requireSafeId('info hash', infoHash));
  }

  imageDir(entryId: string): string {
    return join(this.dataDir, 'images', requireSafeId('entry id', entryId));
  }

  imagePath(entryId: string, fileName: string): string {
    return join(this.imageDir(entryId), fileName);
  }

  async init(): Promise<void> {
    for (const dir of ['staging', 'verified', 'images', 'archive']) {
      await mkdir(join(this.dataDir, dir), { recursive: true });
    }
    // A crash between hashing and installing leaves verified/ entries; hashing again is cheap
    // compared with trusting a half-renamed tree, so they are dropped.
    await rm(join(this.dataDir, 'verified'), { recursive: true, force: true });
    await mkdir(join(this.dataDir, 'verified'), { recursive: true });
  }

  /**
   * Hashes the staged file and, when it matches, moves it into images/<entryId>/ atomically.
   * On mismatch the staging directory is removed, so the next attempt starts clean.
   *
   * `staged` is the sha256 the transfer engine computed from this file while it downloaded
   * (it read every piece back from disk once the piece was written, see
   * transfer/hash-worker.ts); it is used instead of a second full read only when the file
   * still has exactly the size that was hashed. Without it the whole file is read here.
   */
  async install(opts: {
    entryId: string;
    infoHash: string;
    fileName: string;
    expectedSha256: string;
    staged?: { sha256: string; size: number } | undefined;
  }): Promise<string> {
    const staged = join(this.stagingDir(opts.infoHash), opts.fileName);
    const actual =
      opts.staged && (await sizeOf(staged)) === opts.staged.size
        ? opts.staged.sha256
        : await sha256File(staged);
    if (actual !== opts.expectedSha256.toLowerCase()) {
      await this.clearStaging(opts.infoHash);
      throw new FetchError(
        'HASH_MISMATCH',
        `entry ${opts.entryId}: downloaded file sha256 ${actual} differs from approved ${opts.expectedSha256}`,
      );
    }
    const path = await this.promote(opts.entryId, opts.fileName, (dest) => rename(staged, dest));
    await this.clearStaging(opts.infoHash);
    return path;
  }

  /**
   * Installs an entry whose artifact another installed entry already holds: the file is
   * re-hashed, then hard-linked (same bytes, no second copy, no download).
   */
  async installLinked(opts: {
    entryId: string;
    from: string;
    fileName: string;
    expectedSha256: string;
  }): Promise<string> {
    const actual = await sha256File(opts.from);
    if (actual !== opts.expectedSha256.toLowerCase()) {
      throw new FetchError(
        'HASH_MISMATCH',
        `entry ${opts.entryId}: ${opts.from} no longer has sha256 ${opts.expectedSha256}`,
      );
    }
    return this.promote(opts.entryId, opts.fileName, (dest) => link(opts.from, dest));
  }

  // verified/<entryId>/<file> is filled by `place`, then renamed to images/<entryId> in one step.
  private async promote(
    entryId: string,
    fileName: string,
    place: (dest: string) => Promise<void>,
  ): Promise<string> {
    const verifiedDir = join(this.dataDir, 'verified', requireSafeId('entry id', entryId));
    const target = this.imageDir(entryId);
    try {
      await rm(verifiedDir, { recursive: true, force: true });
      await mkdir(verifiedDir);
      await place(join(verifiedDir, fileName));
      // images/<entryId> may hold an older copy only if state was lost; replace it whole.
      await rm(target, { recursive: true, force: true });
      await rename(verifiedDir, target);
    } catch (err) {
      throw new FetchError('STORE_FAILED', `entry ${entryId}: install failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return join(target, fileName);
  }

  async isInstalled(entryId: string, fileName: string): Promise<boolean> {
    try {
      return (await stat(this.imagePath(entryId, fileName))).isFile();
    } catch {
      return false;
    }
  }

  async clearStaging(infoHash: string): Promise<void> {
    await rm(this.stagingDir(infoHash), { recursive: true, force: true });
  }

  /** Moves images/<entryId> to archive/; returns the archive path. */
  async archive(entryId: string, now: Date): Promise<string> {
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const target = join(this.dataDir, 'archive', `${requireSafeId('entry id', entryId)}-${stamp}`);
    await rename(this.imageDir(entryId), target);
    return target;
  }

  async remove(entryId: string): Promise<void> {
    await rm(this.imageDir(entryId), { recursive: true, force: true });
  }

  async listStaging(): Promise<string[]> {
    return readdir(join(this.dataDir, 'staging'));
  }
}
