// One suite, run against both backends: the repository code is shared, the Db door differs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, verifyAuditChain } from '../src/audit/chain.js';
import * as catalogs from '../src/storage/catalog-repo.js';
import { migrate } from '../src/storage/migrations.js';
import * as sites from '../src/storage/site-repo.js';
import * as users from '../src/storage/users-repo.js';
import { backends, openTestDb, type TestDb } from './helpers.js';

describe.each(backends)('storage on %s', (backend) => {
  let t: TestDb;
  beforeEach(async () => {
    t = await openTestDb(backend);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('migrations are idempotent', async () => {
    await expect(migrate(t.db)).resolves.toBe(2);
    const rows = await t.db.all<{ version: number }>('SELECT version FROM schema_migrations');
    expect(rows.map((r) => Number(r.version)).sort()).toEqual([1, 2]);
  });

  it('stores users and tokens', async () => {
    const user: users.UserRecord = {
      id: 'u1',
      name: 'alice',
      passwordHash: 'h',
      totpSecret: null,
      roles: [{ role: 'site-admin', site: 'S1' }],
      endorserIdentity: null,
      createdAt: 1_700_000_000_123,
      disabled: false,
    };
    await users.insertUser(t.db, user);
    expect(await users.userByName(t.db, 'alice')).toEqual(user);
    await users.insertToken(t.db, {
      id: 't1',
      userId: 'u1',
      secretHash: 'x',
      scopes: ['read'],
      label: '',
      createdAt: 1,
      expiresAt: 2 ** 41,
      revokedAt: null,
    });
    expect((await users.tokenById(t.db, 't1'))?.expiresAt).toBe(2 ** 41);
    expect(await users.revokeToken(t.db, 't1', 5)).toBe(true);
    expect(await users.revokeToken(t.db, 't1', 6)).toBe(false);
    expect((await users.tokenById(t.db, 't1'))?.revokedAt).toBe(5);
  });

  it('keeps exact bytes of catalogs and signatures', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
    await catalogs.upsertCatalog(t.db, { id: 'c1', name: 'n', createdAt: 1, latestVersion: 3 });
    await catalogs.insertVersion(t.db, {
      catalogId: 'c1',
      version: 3,
      sha256: 'abc',
      bytes,
      issued: 'i',
      expires: 'e',
      uploadedBy: 'u',
      uploadedAt: 2,
    });
    await catalogs.insertSignature(t.db, {
      catalogId: 'c1',
      version: 3,
      signerCertSha256: 'f'.repeat(64),
      der: Buffer.from([48, 130, 0, 1]),
      subject: 's',
      issuer: 'i',
      identityKey: 'k',
      addedAt: 3,
    });
    expect((await catalogs.versionOf(t.db, 'c1', 3))?.bytes.equals(bytes)).toBe(true);
    expect((await catalogs.signaturesOf(t.db, 'c1', 3))[0]?.der).toEqual(Buffer.from([48, 130, 0, 1]));
    await catalogs.upsertCatalog(t.db, { id: 'c1', name: 'n', createdAt: 1, latestVersion: 2 });
    expect((await catalogs.catalogById(t.db, 'c1'))?.latestVersion).toBe(3);
    expect((await catalogs.latestVersions(t.db)).map((v) => v.version)).toEqual([3]);
  });

  it('rolls a failed transaction back completely', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await sites.insertSite(tx, {
          name: 'S1',
          threshold: 1,
          signerCertPem: null,
          signerKeyPem: null,
          signerChainPem: null,
          createdAt: 1,
        });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await sites.siteByName(t.db, 'S1')).toBeUndefined();
  });

  it('chains audit records and detects an edited one', async () => {
    for (let i = 0; i < 3; i++) {
      await t.db.transaction((tx) =>
        appendAudit(t.db, tx, { actor: 'a', action: 'x', target: `t${i}`, detail: { i } }, new Date()),
      );
    }
    const ok = await verifyAuditChain(t.db);
    expect(ok).toMatchObject({ ok: true, records: 3 });
    await t.db.run("UPDATE audit_log SET target = 'forged' WHERE seq = 2");
    expect(await verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      brokenAtSeq: 2,
      reason: 'record hash mismatch',
    });
  });

  it('detects a deleted audit record', async () => {
    for (let i = 0; i < 3; i++) {
      await t.db.transaction((tx) =>
        appendAudit(t.db, tx, { actor: 'a', action: 'x', target: `t${i}` }, new Date()),
      );
    }
    await t.db.run('DELETE FROM audit_log WHERE seq = 2');
    expect(await verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      brokenAtSeq: 2,
      reason: 'record missing',
    });
  });

  it('serialises concurrent audit appends into one chain', async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.db.transaction((tx) =>
          appendAudit(t.db, tx, { actor: 'a', action: 'x', target: `t${i}` }, new Date()),
        ),
      ),
    );
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, records: 10 });
  });

  it('tracks site trust lists with origins and removals', async () => {
    await sites.insertSite(t.db, {
      name: 'S1',
      threshold: 2,
      signerCertPem: null,
      signerKeyPem: null,
      signerChainPem: null,
      createdAt: 1,
    });
    await sites.putEndorser(t.db, {
      site: 'S1',
      identityKey: 'k1',
      origin: 'local',
      issuer: 'CN=CA',
      subject: 'CN=a',
      scope: { kinds: ['vm-image'] },
    });
    await sites.replaceUpstreamEndorsers(t.db, 'S1', [
      { site: 'S1', identityKey: 'k2', origin: 'upstream', issuer: 'CN=CA', subject: 'CN=b', scope: {} },
    ]);
    await sites.addRemoval(t.db, 'S1', 'k2');
    expect((await sites.endorsersOf(t.db, 'S1')).map((e) => `${e.identityKey}/${e.origin}`)).toEqual([
      'k1/local',
      'k2/upstream',
    ]);
    expect(await sites.removalsOf(t.db, 'S1')).toEqual(['k2']);
    await sites.insertApprovalDoc(t.db, {
      site: 'S1',
      version: 7,
      bytes: Buffer.from('a'),
      signature: Buffer.from('s'),
      contentKey: 'c',
      issuedAt: 1,
      expiresAt: 2,
    });
    expect((await sites.latestApprovalDoc(t.db, 'S1'))?.version).toBe(7);
    await expect(
      sites.insertApprovalDoc(t.db, {
        site: 'S1',
        version: 7,
        bytes: Buffer.from('b'),
        signature: Buffer.from('s'),
        contentKey: 'c',
        issuedAt: 1,
        expiresAt: 2,
      }),
    ).rejects.toThrow();
  });
});
