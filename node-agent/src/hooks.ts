// Event hooks, as vmcatcher runs them: each configured command gets the entry's metadata in
// its environment (TSW_EVENT, TSW_ENTRY_ID, TSW_ENTRY_PATH, ...), so a site can register
// images with libvirt or OpenStack. A failing hook is logged, never fatal.

import { execa } from 'execa';
import type { InstalledEntry } from './state.js';

export type HookEvent = 'available' | 'expiring' | 'removed';

export function hookEnvironment(event: HookEvent, entry: InstalledEntry): Record<string, string> {
  return {
    TSW_EVENT: event,
    TSW_ENTRY_ID: entry.entryId,
    TSW_ENTRY_NAME: entry.name,
    TSW_ENTRY_VERSION: entry.version,
    TSW_ENTRY_KIND: entry.kind,
    TSW_ENTRY_SHA256: entry.sha256,
    TSW_ENTRY_SIZE: String(entry.sizeBytes),
    TSW_ENTRY_FILE: entry.fileName,
    TSW_ENTRY_PATH: entry.path,
    TSW_ENTRY_INFO_HASH: entry.infoHash,
    TSW_ENTRY_CATALOG_ID: entry.catalogId,
    TSW_ENTRY_CATALOG_VERSION: String(entry.catalogVersion),
    TSW_ENTRY_JSON: JSON.stringify(entry.metadata),
  };
}

export interface HookResult {
  command: string;
  exitCode: number | undefined;
  error?: string;
}

export async function runHooks(
  commands: string[][],
  event: HookEvent,
  entry: InstalledEntry,
  timeoutSeconds: number,
): Promise<HookResult[]> {
  const results: HookResult[] = [];
  for (const [file, ...args] of commands) {
    if (!file) continue;
    const result = await execa(file, args, {
      env: hookEnvironment(event, entry),
      reject: false,
      timeout: timeoutSeconds * 1000,
      stdin: 'ignore',
    });
    results.push({
      command: [file, ...args].join(' '),
      exitCode: result.exitCode,
      ...(result.failed ? { error: result.shortMessage } : {}),
    });
  }
  return results;
}
