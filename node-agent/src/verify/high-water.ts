// Remembers the highest approval version seen, so a mirror replaying an older (still
// validly signed) approval is refused. Written temp + rename; same shape as policy's
// HighWaterStore so policy's FileHighWaterStore can replace it.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { AgentError } from '../errors.js';

export interface HighWater {
  version: number;
  sha256: string;
}

export interface HighWaterStore {
  get(key: string): HighWater | undefined;
  set(key: string, value: HighWater): void;
}

export class FileHighWaterStore implements HighWaterStore {
  private readonly values: Record<string, HighWater>;

  constructor(private readonly path: string) {
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      this.values = text === undefined ? {} : (JSON.parse(text) as Record<string, HighWater>);
    } catch {
      // Fail closed: starting from nothing would accept any replayed approval.
      throw new AgentError('STATE_INVALID', `${path}: high-water record is corrupt; refusing to start`);
    }
  }

  get(key: string): HighWater | undefined {
    return this.values[key];
  }

  set(key: string, value: HighWater): void {
    const current = this.values[key];
    if (current && current.version === value.version && current.sha256 === value.sha256) return;
    this.values[key] = value;
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.values));
    renameSync(`${this.path}.tmp`, this.path);
  }
}
