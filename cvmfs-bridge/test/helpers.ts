// Shared fixtures: throwaway repositories in temp dirs and a reader over them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFetcher } from '../src/reader/fetcher.js';
import { RepositoryReader } from '../src/reader/reader.js';
import { generateRepositoryKeys, type RepositoryKeys } from '../src/repo/keys.js';
import { DEFAULT_REPO_SETTINGS, type RepoSettings, Repository } from '../src/repo/repository.js';

export interface TestRepo {
  readonly repo: Repository;
  readonly settings: RepoSettings;
  readonly base: string;
  reader(options?: { now?: Date; masterKeys?: string[] }): Promise<RepositoryReader>;
  cleanup(): void;
}

export function tempDir(prefix = 'tsw-bridge-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A gate a transaction's callback waits at (`opened`), opened by the test (`open`). */
export function gate(): { open: () => void; opened: Promise<void> } {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Polls `check` every 50 ms until it returns something other than undefined. */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// RSA key generation dominates repository creation; each test file reuses one key set per name.
const keyCache = new Map<string, RepositoryKeys>();
function keysFor(fqrn: string): RepositoryKeys {
  let keys = keyCache.get(fqrn);
  if (!keys) {
    keys = generateRepositoryKeys(fqrn);
    keyCache.set(fqrn, keys);
  }
  return keys;
}

export function createTestRepo(overrides: Partial<RepoSettings> = {}, fqrn = 'test.example.org'): TestRepo {
  const base = tempDir();
  const settings: RepoSettings = {
    ...DEFAULT_REPO_SETTINGS,
    storageDir: join(base, 'srv'),
    stateDir: join(base, 'state'),
    ...overrides,
  };
  const repo = Repository.create(fqrn, settings, new Date(), keysFor(fqrn));
  return {
    repo,
    settings,
    base,
    reader: (options = {}) =>
      RepositoryReader.open(new LocalFetcher(repo.layout.publicDir), {
        fqrn,
        masterPublicKeysPem: options.masterKeys ?? [repo.masterPublicKey()],
        ...(options.now ? { now: options.now } : {}),
      }),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}
