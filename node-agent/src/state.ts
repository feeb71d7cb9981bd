// The agent's durable memory: which entries are installed (with the metadata hooks and the
// status table need), when each stopped being approved, and the last verified approval
// bundle for degraded mode. One JSON file, rewritten temp + fsync + rename.

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError } from './errors.js';

export interface InstalledEntry {
  entryId: string;
  catalogId: string;
  catalogVersion: number;
  kind: string;
  name: string;
  version: string;
  infoHash: string;
  sha256: string;
  sizeBytes: number;
  fileName: string;
  path: string;
  installedAt: string;
  /** set when the entry left the approved set; cleared when it comes back */
  unapprovedSince?: string;
  metadata: unknown;
}

export interface AgentState {
  entries: Record<string, InstalledEntry>;
}

export async function loadState(path: string): Promise<AgentState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as AgentState;
    if (typeof parsed.entries !== 'object' || parsed.entries === null) throw new Error('no entries');
    return parsed;
  } catch {
    throw new AgentError('STATE_INVALID', `${path}: agent state is corrupt; move it away to start afresh`);
  }
}

export async function saveState(path: string, state: AgentState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(state, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}
