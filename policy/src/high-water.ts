// Rollback protection state: the highest version (and its digest) accepted per catalog id
// and per site. Persisted so a restarted verifier cannot be rolled back either.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { TrustError } from './errors.js';

export interface HighWaterMark {
  version: number;
  sha256: string;
}

export interface HighWaterStore {
  get(key: string): HighWaterMark | undefined;
  set(key: string, mark: HighWaterMark): void;
}

export const catalogKey = (id: string): string => `catalog:${id}`;
export const approvalKey = (site: string): string => `approval:${site}`;

/**
 * Throws ROLLBACK for a lower version and EQUIVOCATION for the same version with other
 * bytes (two different documents can never share a version).
 */
export function requireNotOlder(
  store: HighWaterStore | undefined,
  key: string,
  mark: HighWaterMark,
  document: string,
): void {
  const seen = store?.get(key);
  if (!seen) return;
  if (mark.version < seen.version) {
    throw new TrustError(
      'ROLLBACK',
      `version ${mark.version} is older than version ${seen.version} already seen`,
      {
        document,
      },
    );
  }
  if (mark.version === seen.version && mark.sha256 !== seen.sha256) {
    throw new TrustError('EQUIVOCATION', `version ${mark.version} was already seen with different bytes`, {
      document,
    });
  }
}

export function raiseHighWater(store: HighWaterStore | undefined, key: string, mark: HighWaterMark): void {
  if (!store) return;
  const seen = store.get(key);
  if (!seen || mark.version > seen.version) store.set(key, mark);
}

export class MemoryHighWaterStore implements HighWaterStore {
  protected readonly marks = new Map<string, HighWaterMark>();
  get(key: string): HighWaterMark | undefined {
    return this.marks.get(key);
  }
  set(key: string, mark: HighWaterMark): void {
    this.marks.set(key, { ...mark });
  }
}

/** A JSON file rewritten atomically (temp file, fsync, rename) on every change. */
export class FileHighWaterStore extends MemoryHighWaterStore {
  constructor(readonly path: string) {
    super();
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text === undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new TrustError(
        'STATE_INVALID',
        `high-water state ${path} is not valid JSON; refusing to start without it`,
      );
    }
    for (const [key, mark] of Object.entries(data as Record<string, HighWaterMark>)) {
      if (!Number.isSafeInteger(mark?.version) || typeof mark?.sha256 !== 'string') {
        throw new TrustError('STATE_INVALID', `high-water state ${path} has an invalid entry for ${key}`);
      }
      this.marks.set(key, { version: mark.version, sha256: mark.sha256 });
    }
  }

  override set(key: string, mark: HighWaterMark): void {
    super.set(key, mark);
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(Object.fromEntries(this.marks), null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
