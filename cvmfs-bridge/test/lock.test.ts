// Two real processes on one repository: a second writer waits for the first (a bounded time,
// lockWaitSeconds), then publishes; past the wait it is refused with REPO_LOCKED naming the
// holder; with 0 it is refused at once; a holder that dies while others wait is taken over.
// The waiting costs next to no CPU (pauses between tries, no busy loop).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isBridgeError } from '../src/errors.js';
import { acquireLock, acquireLockSync } from '../src/repo/lock.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

const PKG = join(import.meta.dirname, '..');
const CLI = join(PKG, 'dist', 'cli.js');
let t: TestRepo;
let holderScript: string;
const holders: ReturnType<typeof spawn>[] = [];

/** What the holder process runs: a publish that stays open `holdMs`, or the lock alone. */
const HOLDER = `
import { DEFAULT_REPO_SETTINGS, Repository, withTransaction } from ${JSON.stringify(join(PKG, 'dist', 'index.js'))};
import { acquireLock } from ${JSON.stringify(join(PKG, 'dist', 'repo', 'lock.js'))};
const [mode, fqrn, storageDir, stateDir, holdMs] = process.argv.slice(2);
const repo = Repository.open(fqrn, { ...DEFAULT_REPO_SETTINGS, storageDir, stateDir, workers: 1 });
const hold = () => new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
if (mode === 'publish') {
  const result = await withTransaction(repo, async (tx) => {
    await tx.addFile('/first', Buffer.from('from the first writer'));
    process.stdout.write('holding\\n');
    await hold();
  });
  process.stdout.write(\`published \${result.revision} \${Date.now()}\\n\`);
} else {
  const release = await acquireLock(repo.layout.lockFile);
  process.stdout.write('holding\\n');
  await hold();
  release();
}
`;

/** Starts a holder; resolves once it holds the lock, with its pid and a promise of its output. */
async function startHolder(mode: 'publish' | 'lock', holdMs: number) {
  const child = spawn(process.execPath, [
    holderScript,
    mode,
    'test.example.org',
    t.settings.storageDir,
    t.settings.stateDir,
    String(holdMs),
  ]);
  holders.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<string>((resolve) => child.on('exit', () => resolve(out)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('holding\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code}: ${err}`)));
  });
  return { pid: child.pid as number, exited, kill: () => child.kill('SIGKILL') };
}

/** `tsw-bridge --json repo publish` of one file, with the given lock wait; exit code, output, end time. */
function publishByCli(name: string, lockWaitSeconds: number) {
  const source = join(t.base, `src-${name}`);
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, name), `from ${name}\n`);
  const child = spawn(
    process.execPath,
    [CLI, '--json', 'repo', 'publish', 'test.example.org', source, '--path', `/${name}`],
    {
      env: {
        ...process.env,
        TSW_BRIDGE_STORAGE_DIR: t.settings.storageDir,
        TSW_BRIDGE_STATE_DIR: t.settings.stateDir,
        TSW_BRIDGE_WORKERS: '1',
        TSW_BRIDGE_LOCK_WAIT_SECONDS: String(lockWaitSeconds),
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string; endedAt: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr, endedAt: Date.now() })),
  );
}

beforeAll(() => {
  execFileSync(join(PKG, '..', 'node_modules', '.bin', 'tsc'), ['-b', PKG]);
});
afterEach(() => {
  for (const child of holders.splice(0)) child.kill('SIGKILL');
  t?.cleanup();
});
afterAll(() => {
  for (const child of holders) child.kill('SIGKILL');
});

function newRepo(lockWaitSeconds = 60): void {
  t = createTestRepo({ workers: 1, lockWaitSeconds });
  holderScript = join(t.base, 'holder.mjs');
  writeFileSync(holderScript, HOLDER);
}

describe('repository lock between processes', () => {
  it('a second writer waits for the first to publish, then publishes', async () => {
    newRepo();
    const first = await startHolder('publish', 2500);
    const second = await publishByCli('second', 60);
    const firstOut = await first.exited;
    const [, revision, publishedAt] = /published (\d+) (\d+)/.exec(firstOut) ?? [];
    expect(revision).toBe('2');
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ revision: 3 });
    expect(second.endedAt).toBeGreaterThan(Number(publishedAt));
    const reader = await t.reader();
    try {
      expect(reader.revision).toBe(3);
      expect((await reader.readFile('/first')).toString()).toBe('from the first writer');
      expect((await reader.readFile('/second/second')).toString()).toBe('from second\n');
    } finally {
      reader.close();
    }
  }, 60_000);

  it('refuses after the wait with REPO_LOCKED naming the holder; a dead holder is taken over', async () => {
    newRepo();
    const holder = await startHolder('lock', 60_000);
    const startedAt = Date.now();
    const refused = await publishByCli('late', 1);
    expect(refused.endedAt - startedAt).toBeGreaterThanOrEqual(1000);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^tsw-bridge: REPO_LOCKED: repository is locked by process ${holder.pid} \\(holder\\.mjs lock test\\.example\\.org .* since \\d{4}-\\d\\d-\\d\\dT[^)]*\\) \\(\\S+/lock\\); waited 1 s\\n$`,
      ),
    );
    expect(refused.stdout).toBe('');
    holder.kill();
    await holder.exited;
    const after = await publishByCli('after', 0);
    expect(after.stderr).toBe('');
    expect(JSON.parse(after.stdout)).toMatchObject({ revision: 2 });
  }, 60_000);

  it('with wait 0 refuses at once; waiting costs next to no CPU', async () => {
    newRepo();
    const holder = await startHolder('lock', 60_000);
    const lockFile = t.repo.layout.lockFile;
    let startedAt = Date.now();
    const atOnce = await acquireLock(lockFile, { waitSeconds: 0 }).catch((e: unknown) => e);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(isBridgeError(atOnce, 'REPO_LOCKED')).toBe(true);
    expect((atOnce as Error).message).not.toContain('waited');

    startedAt = Date.now();
    const cpuBefore = process.cpuUsage();
    const waited = await acquireLock(lockFile, { waitSeconds: 2 }).catch((e: unknown) => e);
    const cpu = process.cpuUsage(cpuBefore);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2000);
    expect((waited as Error).message).toMatch(new RegExp(`locked by process ${holder.pid} .*; waited 2 s$`));
    // ms of CPU over 2 s of waiting: ~10 measured; a loop trying without pauses took ~490
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(100);

    startedAt = Date.now();
    expect(() => acquireLockSync(lockFile, { waitSeconds: 1 })).toThrow(/waited 1 s$/);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
  }, 60_000);

  it('a waiter takes the lock over when its holder dies during the wait', async () => {
    newRepo();
    const holder = await startHolder('lock', 60_000);
    const waiting = acquireLock(t.repo.layout.lockFile, { waitSeconds: 30 });
    setTimeout(() => holder.kill(), 500);
    const startedAt = Date.now();
    const release = await waiting;
    expect(Date.now() - startedAt).toBeLessThan(5000);
    release();
    const release2 = acquireLockSync(t.repo.layout.lockFile);
    release2();
  }, 60_000);

  it('transactions of this process queue behind one waiting for another process; one deadline for both waits', async () => {
    newRepo();
    const order: string[] = [];
    const publish = (name: string) =>
      withTransaction(t.repo, async (tx) => {
        order.push(name);
        await tx.addFile(`/${name}`, Buffer.from(`${name}\n`));
      });
    let holder = await startHolder('lock', 1500);
    const [a, b] = await Promise.all([publish('a'), publish('b')]);
    await holder.exited;
    expect(order).toEqual(['a', 'b']);
    expect([a.revision, b.revision]).toEqual([2, 3]);

    newRepo(1);
    holder = await startHolder('lock', 60_000);
    const startedAt = Date.now();
    const ended: number[] = [];
    const refusals = await Promise.all(
      ['c', 'd'].map((name) =>
        publish(name).then(
          () => undefined,
          (e: unknown) => {
            ended.push(Date.now() - startedAt);
            return e as Error;
          },
        ),
      ),
    );
    // c waited for the lock file, d for its turn (and then the lock file): 1 s in all, not 2
    expect(refusals.map((e) => isBridgeError(e, 'REPO_LOCKED'))).toEqual([true, true]);
    expect(refusals[0]?.message).toMatch(new RegExp(`locked by process ${holder.pid} .*; waited 1 s$`));
    expect(refusals[1]?.message).toMatch(/; waited 1 s$/);
    expect(Math.max(...ended)).toBeLessThan(1900);
    expect(order).toEqual(['a', 'b']);
  }, 60_000);
});
