// Contents handed to the workers in shared slabs (store/shared-slabs.ts): a region is reused
// only after the worker that stored it replied, so no content is overwritten while being read.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedSlabs } from '../src/store/shared-slabs.js';
import { WorkerPool } from '../src/store/worker-pool.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
  t?.cleanup();
  t = undefined;
});

const slabs = () => {
  const dropped: number[] = [];
  const s = new SharedSlabs({
    slabBytes: 100,
    maxSlabs: 2,
    maxContentBytes: 50,
    onSlab: () => {},
    onDrop: (id) => dropped.push(id),
  });
  return { s, dropped };
};

describe('shared slabs', () => {
  it('hands a slab out again only once every region of it was released', () => {
    const { s } = slabs();
    const a = s.alloc(40) as Buffer;
    const b = s.alloc(40) as Buffer;
    expect(a.buffer).toBe(b.buffer);
    const c = s.alloc(40) as Buffer; // does not fit beside a and b: a second slab
    expect(c.buffer).not.toBe(a.buffer);
    s.release(s.regionOf(a) as NonNullable<ReturnType<typeof s.regionOf>>);
    expect(s.alloc(40)?.buffer).toBe(c.buffer); // c's slab still has room
    expect(s.alloc(40)).toBeUndefined(); // b still live in slab 1, slab 2 full, no third slab
    s.release(s.regionOf(b) as NonNullable<ReturnType<typeof s.regionOf>>);
    const d = s.alloc(40) as Buffer;
    expect(d.buffer).toBe(a.buffer);
    expect(d.byteOffset).toBe(0);
    expect(s.alloc(51)).toBeUndefined(); // larger than a slab content may be
    expect(s.regionOf(Buffer.alloc(4))).toBeUndefined();
  });

  it('drops slabs with regions never released', () => {
    const { s, dropped } = slabs();
    const a = s.alloc(10) as Buffer;
    s.dropBusy();
    expect(dropped).toHaveLength(1);
    expect(s.regionOf(a)).toBeUndefined();
    expect(s.slabCount).toBe(0);
  });

  it('stores every content as it was handed over while slabs are reused', async () => {
    t = createTestRepo();
    pool = new WorkerPool({ dataDir: t.repo.store.dataDir, workers: 2, compressionLevel: 1 });
    const expected: string[] = [];
    const stored: Promise<{ rawHash: string }>[] = [];
    let shared = 0;
    // ~3 MB each, 60 of them: far more than the slabs hold at once, so regions are reused.
    for (let i = 0; i < 60; i++) {
      const size = 3 * 1024 * 1024 + i;
      const bytes = pool.sharedBuffer(size) ?? Buffer.allocUnsafeSlow(size);
      if (bytes.buffer instanceof SharedArrayBuffer) shared++;
      bytes.fill(i % 251);
      bytes.write(`content ${i}`);
      expected.push(createHash('sha1').update(bytes).digest('hex'));
      stored.push(pool.store({ shared: bytes }));
      if (i % 10 === 9) await Promise.all(stored); // let slabs free up and be reused
    }
    const results = await Promise.all(stored);
    expect(shared).toBe(60);
    expect(results.map((r) => r.rawHash)).toEqual(expected);
  });
});
