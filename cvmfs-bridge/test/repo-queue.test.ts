// Transactions of one process into one repository (what `tsw-bridge run` does when its flows
// publish into the same repository): they queue in arrival order, one open at a time, instead
// of failing with REPO_LOCKED. A waiter gives up after lockWaitSeconds naming the holder; a
// failed transaction passes the repository on; a transaction opened inside another's callback
// is refused at once instead of waiting for itself.
import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../src/errors.js';
import { acquireLockSync } from '../src/repo/lock.js';
import { repositoryTurns, runAs } from '../src/repo/turns.js';
import { withTransaction } from '../src/writer/publish.js';
import type { Transaction } from '../src/writer/transaction.js';
import { createTestRepo, gate, type TestRepo } from './helpers.js';

let t: TestRepo;
afterEach(() => t?.cleanup());

/** A publish of one file that records when its callback ran (its turn began). */
function publishFile(name: string, events: string[], hold?: Promise<void>) {
  return withTransaction(t.repo, async (tx: Transaction) => {
    events.push(`open ${name}`);
    await tx.addFile(`/${name}`, Buffer.from(`content of ${name}\n`));
    await hold;
    events.push(`close ${name}`);
  });
}

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

async function readBack(paths: string[]) {
  const reader = await t.reader();
  try {
    const out: Record<string, string | undefined> = {};
    for (const p of paths)
      out[p] = (await reader.lookup(p)) ? (await reader.readFile(p)).toString() : undefined;
    return { revision: reader.revision, files: out };
  } finally {
    reader.close();
  }
}

describe('transactions of one process into one repository', () => {
  it('queue in arrival order and all land, each readable through the CVMFS reader', async () => {
    t = createTestRepo({ workers: 1, lockWaitSeconds: 30 });
    const events: string[] = [];
    const first = gate();
    const a = runAs('S3 flow', () => publishFile('a', events, first.opened));
    await tick();
    const b = runAs('approved flow', () => publishFile('b', events));
    await tick(10);
    const c = runAs('container conversion', () => publishFile('c', events));
    await tick(200);
    // b and c wait: only a's callback has run
    expect(events).toEqual(['open a']);
    expect(repositoryTurns()).toEqual({
      'test.example.org': {
        holder: 'S3 flow',
        since: expect.stringMatching(/^\d{4}-/),
        waiting: ['approved flow', 'container conversion'],
      },
    });
    first.open();
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect([ra.revision, rb.revision, rc.revision]).toEqual([2, 3, 4]);
    expect(events).toEqual(['open a', 'close a', 'open b', 'close b', 'open c', 'close c']);
    expect(await readBack(['/a', '/b', '/c'])).toEqual({
      revision: 4,
      files: { '/a': 'content of a\n', '/b': 'content of b\n', '/c': 'content of c\n' },
    });
    // the cross-process lock was released with the last transaction
    expect(repositoryTurns()).toEqual({});
    acquireLockSync(t.repo.layout.lockFile)();
  }, 60_000);

  it('a waiter gives up after lockWaitSeconds with REPO_LOCKED naming the holder', async () => {
    t = createTestRepo({ workers: 1, lockWaitSeconds: 1 });
    const events: string[] = [];
    const hold = gate();
    const holder = runAs('S3 flow', () => publishFile('held', events, hold.opened));
    await tick();
    const startedAt = Date.now();
    const refused = await runAs('approved flow', () => publishFile('late', events)).catch((e: unknown) => e);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
    expect(isBridgeError(refused, 'REPO_LOCKED')).toBe(true);
    expect((refused as Error).message).toMatch(
      /^repository test\.example\.org is busy with another transaction of this process \(S3 flow, open since \d{4}-\d\d-\d\dT[\d:.]+Z\); waited 1 s$/,
    );
    hold.open();
    expect((await holder).revision).toBe(2);
    expect(events).toEqual(['open held', 'close held']);
    expect(await readBack(['/held', '/late'])).toEqual({
      revision: 2,
      files: { '/held': 'content of held\n', '/late': undefined },
    });
  }, 60_000);

  it('with lockWaitSeconds 0 a second transaction is refused at once, as a one-shot command is', async () => {
    t = createTestRepo({ workers: 1, lockWaitSeconds: 0 });
    const hold = gate();
    const holder = publishFile('held', [], hold.opened);
    await tick();
    const startedAt = Date.now();
    const refused = await publishFile('late', []).catch((e: unknown) => e);
    expect(Date.now() - startedAt).toBeLessThan(500);
    expect((refused as Error).message).toMatch(
      /^repository test\.example\.org is busy with another transaction of this process \(open since [^)]+\)$/,
    );
    // a synchronous writer (tags, whitelist, object GC) cannot wait in-process either
    expect(() => acquireLockSync(t.repo.layout.lockFile)).toThrow(/REPO_LOCKED|already open|busy/);
    hold.open();
    expect((await holder).revision).toBe(2);
  }, 60_000);

  it('a failed or aborted transaction lets the next one proceed', async () => {
    t = createTestRepo({ workers: 1, lockWaitSeconds: 30 });
    const events: string[] = [];
    const hold = gate();
    const failing = withTransaction(t.repo, async (tx) => {
      events.push('open failing');
      await tx.addFile('/failing', Buffer.from('never published\n'));
      await hold.opened;
      throw new Error('the source went away');
    });
    await tick();
    const next = publishFile('next', events);
    const after = publishFile('after', events);
    await tick(100);
    hold.open();
    const failed = await failing.catch((e: unknown) => e);
    expect(isBridgeError(failed, 'ABORTED')).toBe(true);
    expect((await next).revision).toBe(2);
    expect((await after).revision).toBe(3);
    expect(events).toEqual(['open failing', 'open next', 'close next', 'open after', 'close after']);
    expect(await readBack(['/failing', '/next', '/after'])).toEqual({
      revision: 3,
      files: { '/failing': undefined, '/next': 'content of next\n', '/after': 'content of after\n' },
    });
  }, 60_000);

  it('the same flow publishing twice does not deadlock: both land, and a nested one is refused at once', async () => {
    t = createTestRepo({ workers: 1, lockWaitSeconds: 30 });
    const events: string[] = [];
    // one flow, two publishes started together (e.g. a batch and its retry of single changes)
    const [r1, r2] = await runAs('S3 flow', () =>
      Promise.all([publishFile('one', events), publishFile('two', events)]),
    );
    expect([r1.revision, r2.revision]).toEqual([2, 3]);
    // a publish started inside an open transaction's callback would wait for itself
    const startedAt = Date.now();
    let nested: unknown;
    const outer = await runAs('approved flow', () =>
      withTransaction(t.repo, async (tx) => {
        await tx.addFile('/outer', Buffer.from('outer\n'));
        nested = await publishFile('inner', events).catch((e: unknown) => e);
      }),
    );
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(isBridgeError(nested, 'REPO_LOCKED')).toBe(true);
    expect((nested as Error).message).toMatch(
      /^repository test\.example\.org: a transaction is already open in this call chain \(approved flow, open since [^)]+\); one opened inside it would wait for itself$/,
    );
    expect(outer.revision).toBe(4);
    // and the repository is free again afterwards
    expect((await publishFile('later', events)).revision).toBe(5);
    expect(await readBack(['/one', '/two', '/outer', '/later'])).toMatchObject({ revision: 5 });
  }, 60_000);
});
