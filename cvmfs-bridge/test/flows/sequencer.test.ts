// The sequencer on its own: batches commit in arrival order, the next batch prepares while
// the previous commits, and a failed batch (with the one prepared behind it) retries in order.
import { describe, expect, it } from 'vitest';
import { Sequencer } from '../../src/flows/s3/sequencer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function harness(opts: { failCommits?: number; failPrepares?: number; commitMs?: number } = {}) {
  const events: string[] = [];
  const committed: number[] = [];
  let failures = opts.failCommits ?? 0;
  let prepareFailures = opts.failPrepares ?? 0;
  const seq = new Sequencer<number, number[]>({
    batchDelayMs: 5,
    batchMaxEvents: 3,
    keep: () => true,
    prepare: async (batch) => {
      events.push(`prepare ${batch.join(',')}`);
      await sleep(5);
      if (prepareFailures-- > 0) throw new Error('S3 unreachable');
      return batch;
    },
    commit: async (batch) => {
      events.push(`commit-start ${batch.join(',')}`);
      await sleep(opts.commitMs ?? 30);
      if (failures-- > 0) {
        events.push(`commit-failed ${batch.join(',')}`);
        throw new Error('disk full');
      }
      committed.push(...batch);
      events.push(`commit-end ${batch.join(',')}`);
    },
    release: async () => {},
    onRetry: () => {},
  });
  return { seq, events, committed };
}

async function until(pred: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

describe('Sequencer', () => {
  it('commits batches in arrival order and prepares the next while one commits', async () => {
    const { seq, events, committed } = harness();
    for (let i = 0; i < 9; i++) seq.push(i);
    await until(() => committed.length === 9);
    expect(committed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const overlap = events.indexOf('prepare 3,4,5') < events.indexOf('commit-end 0,1,2');
    expect(overlap).toBe(true);
    await seq.stop(1000);
  });

  it('retries a failed batch and the one prepared behind it, in order', async () => {
    const { seq, events, committed } = harness({ failCommits: 1 });
    for (let i = 0; i < 6; i++) seq.push(i);
    await until(() => committed.length === 6);
    expect(committed).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events).toContain('commit-failed 0,1,2');
    // Nothing of the second batch was committed before the first succeeded.
    expect(events.indexOf('commit-end 3,4,5')).toBeGreaterThan(events.indexOf('commit-end 0,1,2'));
    await seq.stop(1000);
  });

  it('retries a batch whose preparation failed, keeping the order', async () => {
    const { seq, committed } = harness({ failPrepares: 2 });
    for (let i = 0; i < 5; i++) seq.push(i);
    await until(() => committed.length === 5);
    expect(committed).toEqual([0, 1, 2, 3, 4]);
    await seq.stop(1000);
  });
});
