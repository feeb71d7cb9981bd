// The in-memory approval cache of the static hot path: warm hits, one storage read per miss burst,
// expiry after cacheSeconds, and invalidation after a local re-sign.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApprovalCache } from '../src/sites/approval-cache.js';
import type { Db } from '../src/storage/db.js';
import { insertApprovalDoc, insertSite } from '../src/storage/site-repo.js';
import { openTestDb, type TestDb } from './helpers.js';

describe('approval cache', () => {
  let t: TestDb;
  let reads: number;
  let counted: Db;
  beforeEach(async () => {
    t = await openTestDb('sqlite');
    reads = 0;
    const db = t.db;
    counted = Object.assign(Object.create(db) as Db, {
      get: (sql: string, params?: never[]) => {
        reads++;
        return db.get(sql, params);
      },
    });
    await insertSite(db, {
      name: 'S',
      threshold: 1,
      signerCertPem: null,
      signerKeyPem: null,
      signerChainPem: null,
      createdAt: 1,
    });
    await insertApprovalDoc(db, {
      site: 'S',
      version: 1,
      bytes: Buffer.from('v1'),
      signature: Buffer.from('s1'),
      contentKey: 'k',
      issuedAt: 1,
      expiresAt: 2,
    });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('reads storage once for a burst of misses and then serves from memory', async () => {
    const cache = new ApprovalCache(counted, 60_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.get('S')));
    expect(results.every((r) => r?.version === 1)).toBe(true);
    expect(reads).toBe(1);
    const warm = cache.get('S');
    expect(warm instanceof Promise).toBe(false);
    expect(reads).toBe(1);
  });

  it('re-reads after invalidation and after cacheSeconds', async () => {
    const cache = new ApprovalCache(counted, 0);
    expect((await cache.get('S'))?.version).toBe(1);
    await insertApprovalDoc(t.db, {
      site: 'S',
      version: 2,
      bytes: Buffer.from('v2'),
      signature: Buffer.from('s2'),
      contentKey: 'k',
      issuedAt: 1,
      expiresAt: 2,
    });
    expect((await cache.get('S'))?.version).toBe(2);
    const keep = new ApprovalCache(counted, 60_000);
    await keep.get('S');
    await insertApprovalDoc(t.db, {
      site: 'S',
      version: 3,
      bytes: Buffer.from('v3'),
      signature: Buffer.from('s3'),
      contentKey: 'k',
      issuedAt: 1,
      expiresAt: 2,
    });
    expect((await keep.get('S'))?.version).toBe(2);
    keep.invalidate('S');
    expect((await keep.get('S'))?.version).toBe(3);
    expect(await keep.get('NOPE')).toBeUndefined();
  });
});
