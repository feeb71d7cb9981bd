import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Approval,
  type Catalog,
  type EndorserRule,
  type EvaluateInput,
  evaluate,
  FileHighWaterStore,
  type HighWaterStore,
  MemoryHighWaterStore,
  type SignerCredentials,
  serializeDocument,
  signDetached,
  TrustError,
  verifyTrustList,
} from '../src/index.js';
import { createTestPki, makeApproval, makeCatalog, makeEntry, type TestPki } from '../src/testing/index.js';
import { flipByte, tempDir } from './helpers.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki(join(tempDir(), 'pki'));
});

const DAY = 86400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

interface WorldOptions {
  catalog?: Partial<Catalog>;
  signers?: SignerCredentials[];
  rules?: EndorserRule[];
  threshold?: number;
  approval?: Partial<Approval>;
  approvalSigner?: SignerCredentials;
  highWater?: HighWaterStore;
}

function world(o: WorldOptions = {}) {
  const catalog = makeCatalog(o.catalog);
  const bytes = serializeDocument(catalog);
  const signatures = (o.signers ?? [pki.endorsers.alice]).map((s) => signDetached(bytes, s));
  const rules = o.rules ?? [pki.endorsers.alice.rule, pki.endorsers.bob.rule, pki.endorsers.carol.rule];
  const approval = makeApproval(
    [{ catalog, bytes }],
    { threshold: o.threshold ?? 1, endorsers: rules },
    o.approval,
  );
  const approvalBytes = serializeDocument(approval);
  const input: EvaluateInput = {
    approval: { bytes: approvalBytes, signature: signDetached(approvalBytes, o.approvalSigner ?? pki.site) },
    catalogs: [{ bytes, signatures }],
    anchors: pki.anchors,
    siteSigners: [pki.site.rule],
    site: 'EXAMPLE-SITE',
    highWater: o.highWater ?? new MemoryHighWaterStore(),
  };
  return { catalog, bytes, approval, input };
}

function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrustError) return err.code;
    throw err;
  }
  throw new Error('expected a TrustError');
}

const codes = (reasons: { code: string }[]) => reasons.map((r) => r.code);

describe('evaluate: endorsed AND approved', () => {
  it('allows an approved, endorsed entry and denies an unapproved one', () => {
    const w = world({ catalog: { entries: [makeEntry(), makeEntry()] } });
    const second = w.catalog.entries[1];
    if (!second) throw new Error('fixture');
    // Approve only the first entry.
    const approval = {
      ...w.approval,
      catalogs: w.approval.catalogs.map((c) => ({ ...c, entries: c.entries.slice(0, 1) })),
    };
    const bytes = serializeDocument(approval);
    const result = evaluate({ ...w.input, approval: { bytes, signature: signDetached(bytes, pki.site) } });
    expect(result.allowed.map((e) => e.entryId)).toEqual([w.catalog.entries[0]?.id]);
    const denied = result.entries.find((e) => e.entryId === second.id);
    expect(denied?.allowed).toBe(false);
    expect(codes(denied?.reasons ?? [])).toEqual(['NOT_APPROVED']);
  });

  it('denies a catalog whose bytes were tampered (the approval pins the digest)', () => {
    const w = world();
    const tampered = flipByte(w.bytes, 40);
    const result = evaluate({
      ...w.input,
      catalogs: [{ bytes: tampered, signatures: w.input.catalogs[0]?.signatures ?? [] }],
    });
    expect(result.allowed).toHaveLength(0);
    expect(codes(result.entries[0]?.reasons ?? [])).toEqual(['CATALOG_DIGEST_MISMATCH']);
  });

  it('denies an approval naming another catalog digest (mix-and-match)', () => {
    const w = world();
    const other = makeCatalog();
    const approval = makeApproval(
      [{ catalog: w.catalog, bytes: serializeDocument(other) }],
      w.approval.trust,
    );
    const bytes = serializeDocument(approval);
    const result = evaluate({ ...w.input, approval: { bytes, signature: signDetached(bytes, pki.site) } });
    expect(result.allowed).toHaveLength(0);
    expect(codes(result.catalogs[0]?.reasons ?? [])).toEqual(['CATALOG_DIGEST_MISMATCH']);
  });

  it('denies an entry whose hash differs between catalog and approval', () => {
    const w = world();
    const approval = structuredClone(w.approval);
    const entryRef = approval.catalogs[0]?.entries[0];
    if (!entryRef) throw new Error('fixture');
    entryRef.sha256 = 'f'.repeat(64);
    const bytes = serializeDocument(approval);
    const result = evaluate({ ...w.input, approval: { bytes, signature: signDetached(bytes, pki.site) } });
    expect(codes(result.entries[0]?.reasons ?? [])).toEqual(['ENTRY_HASH_MISMATCH']);
  });

  it.each([
    ['a signer not on the site list', () => pki.issue('Stranger'), 'NOT_AUTHORISED_SIGNER', false],
    ['a signer from an unknown CA', () => pki.untrusted, 'CERT_UNTRUSTED', true],
    ['a revoked signer', () => pki.revoked, 'CERT_REVOKED', true],
    ['an expired certificate', () => pki.expired, 'CERT_EXPIRED', true],
  ])('denies a catalog signed only by %s, with the reason', (_label, signer, code, onList) => {
    const s = signer();
    const rules = onList ? [s.rule, pki.endorsers.alice.rule] : [pki.endorsers.alice.rule];
    const w = world({ signers: [s], rules });
    const result = evaluate(w.input);
    expect(result.allowed).toHaveLength(0);
    const reasons = codes(result.entries[0]?.reasons ?? []);
    expect(reasons[0]).toBe('THRESHOLD_NOT_MET');
    expect(reasons).toContain(code);
  });

  it('does not count two signatures from one identity twice, even with two certificates', () => {
    const aliceAgain = pki.issue('Alice Endorser'); // same DN, new key and certificate
    expect(aliceAgain.certificate.sha256).not.toBe(pki.endorsers.alice.certificate.sha256);
    const w = world({ signers: [pki.endorsers.alice, aliceAgain], threshold: 2 });
    const result = evaluate(w.input);
    expect(result.allowed).toHaveLength(0);
    expect(codes(result.entries[0]?.reasons ?? [])[0]).toBe('THRESHOLD_NOT_MET');
  });

  it('allows k-of-n with distinct identities', () => {
    const w = world({ signers: [pki.endorsers.alice, pki.endorsers.bob], threshold: 2 });
    expect(evaluate(w.input).allowed).toHaveLength(1);
  });

  it('compares identities canonically, not as text', () => {
    const rule = {
      issuer: '/DC=ORG/DC=trustswarm-test/CN=TrustSwarm  Test Issuing CA',
      subject: '/DC=org/DC=TrustSwarm-Test/OU=people/CN=alice endorser',
    };
    expect(evaluate(world({ rules: [rule] }).input).allowed).toHaveLength(1);
    const other = { ...rule, subject: '/DC=org/DC=trustswarm-test/OU=other/CN=Alice Endorser' };
    expect(evaluate(world({ rules: [other] }).input).allowed).toHaveLength(0);
  });

  it('enforces endorser scopes per entry (kinds and VO tags)', () => {
    const cms = makeEntry({ voTags: ['cms'] });
    const atlas = makeEntry({ voTags: ['atlas'] });
    const untagged = makeEntry();
    const snapshot = makeEntry({
      kind: 'repo-snapshot',
      voTags: ['cms'],
      cvmfs: { repository: 'sw.example.org', path: '/cms/1' },
    });
    const rule = { ...pki.endorsers.alice.rule, scope: { voTags: ['cms'], kinds: ['vm-image' as const] } };
    const result = evaluate(
      world({ catalog: { entries: [cms, atlas, untagged, snapshot] }, rules: [rule] }).input,
    );
    const byId = new Map(result.entries.map((e) => [e.entryId, e]));
    expect(byId.get(cms.id)?.allowed).toBe(true);
    for (const denied of [atlas, untagged, snapshot]) {
      expect(codes(byId.get(denied.id)?.reasons ?? [])).toEqual(['SCOPE_DENIED']);
    }
  });

  it('refuses an approval signed by someone other than the site', () => {
    expect(thrownCode(() => evaluate(world({ approvalSigner: pki.endorsers.alice }).input))).toBe(
      'NOT_AUTHORISED_SIGNER',
    );
  });

  it('refuses an approval for another site', () => {
    expect(thrownCode(() => evaluate(world({ approval: { site: 'OTHER-SITE' } }).input))).toBe('WRONG_SITE');
  });

  it('refuses a tampered approval', () => {
    const w = world();
    const bytes = flipByte(w.input.approval.bytes, 30);
    expect(thrownCode(() => evaluate({ ...w.input, approval: { ...w.input.approval, bytes } }))).toBe(
      'DIGEST_MISMATCH',
    );
  });

  it('refuses an expired approval and one with too long a lifetime', () => {
    const now = Date.now();
    expect(
      thrownCode(() =>
        evaluate(world({ approval: { issued: iso(now - 3 * 3600_000), expires: iso(now - 60_000) } }).input),
      ),
    ).toBe('EXPIRED');
    expect(thrownCode(() => evaluate(world({ approval: { expires: iso(now + 30 * DAY) } }).input))).toBe(
      'LIFETIME_TOO_LONG',
    );
    expect(
      thrownCode(() =>
        evaluate(world({ approval: { issued: iso(now + DAY), expires: iso(now + 1.5 * DAY) } }).input),
      ),
    ).toBe('NOT_YET_VALID');
  });

  it('denies an expired catalog and one with too long a lifetime', () => {
    const now = Date.now();
    const expired = evaluate(
      world({ catalog: { issued: iso(now - 10 * DAY), expires: iso(now - DAY) } }).input,
    );
    expect(codes(expired.entries[0]?.reasons ?? [])).toEqual(['EXPIRED']);
    const long = evaluate(world({ catalog: { expires: iso(now + 400 * DAY) } }).input);
    expect(codes(long.entries[0]?.reasons ?? [])).toEqual(['LIFETIME_TOO_LONG']);
  });

  it('refuses an older approval after a newer one (rollback)', () => {
    const highWater = new MemoryHighWaterStore();
    const old = world({ approval: { version: 5 }, highWater });
    const newer = world({ approval: { version: 6 }, highWater });
    evaluate(newer.input);
    expect(thrownCode(() => evaluate(old.input))).toBe('ROLLBACK');
  });

  it('refuses the same approval version with other bytes (equivocation)', () => {
    const highWater = new MemoryHighWaterStore();
    evaluate(world({ approval: { version: 7 }, highWater }).input);
    expect(thrownCode(() => evaluate(world({ approval: { version: 7 }, highWater }).input))).toBe(
      'EQUIVOCATION',
    );
  });

  it('accepts the identical approval again', () => {
    const w = world({ approval: { version: 9 } });
    evaluate(w.input);
    expect(evaluate(w.input).allowed).toHaveLength(1);
  });

  it('denies an older catalog version and a re-signed catalog version with other bytes', () => {
    const highWater = new MemoryHighWaterStore();
    const v2 = world({ catalog: { version: 2 }, approval: { version: 1 }, highWater });
    evaluate(v2.input);
    const v1 = world({ catalog: { id: v2.catalog.id, version: 1 }, approval: { version: 2 }, highWater });
    expect(codes(evaluate(v1.input).entries[0]?.reasons ?? [])).toEqual(['ROLLBACK']);
    const v2other = world({
      catalog: { id: v2.catalog.id, version: 2 },
      approval: { version: 3 },
      highWater,
    });
    expect(codes(evaluate(v2other.input).entries[0]?.reasons ?? [])).toEqual(['EQUIVOCATION']);
  });

  it('raises the high-water marks only for documents that were accepted', () => {
    const highWater = new MemoryHighWaterStore();
    const w = world({ approval: { version: 3 }, approvalSigner: pki.endorsers.alice, highWater });
    expect(() => evaluate(w.input)).toThrow(TrustError);
    expect(highWater.get('approval:EXAMPLE-SITE')).toBeUndefined();
    const ok = world({ approval: { version: 3 }, highWater });
    evaluate(ok.input);
    expect(highWater.get('approval:EXAMPLE-SITE')?.version).toBe(3);
    expect(highWater.get(`catalog:${ok.catalog.id}`)?.version).toBe(ok.catalog.version);
  });
});

describe('persisted high-water marks', () => {
  it('survive a restart and refuse a rollback afterwards', () => {
    const path = join(tempDir(), 'state', 'high-water.json');
    const first = new FileHighWaterStore(path);
    evaluate(world({ approval: { version: 10 }, highWater: first }).input);
    const restarted = new FileHighWaterStore(path);
    expect(restarted.get('approval:EXAMPLE-SITE')?.version).toBe(10);
    expect(thrownCode(() => evaluate(world({ approval: { version: 9 }, highWater: restarted }).input))).toBe(
      'ROLLBACK',
    );
  });

  it('refuse to start from a corrupt state file (fail closed)', () => {
    const path = join(tempDir(), 'high-water.json');
    writeFileSync(path, '{"approval:X": {"version": "ten"}');
    expect(thrownCode(() => new FileHighWaterStore(path))).toBe('STATE_INVALID');
  });
});

describe('signed trust lists', () => {
  const list = (version: number, overrides: Record<string, unknown> = {}) =>
    serializeDocument({
      apiVersion: 'trustswarm/v1',
      kind: 'TrustList',
      name: 'federation',
      version,
      issued: iso(Date.now() - 60_000),
      expires: iso(Date.now() + 30 * DAY),
      endorsers: [pki.endorsers.carol.rule],
      ...overrides,
    } as Parameters<typeof serializeDocument>[0]);

  it('accepts a list signed by a pinned publisher', () => {
    const bytes = list(1);
    const v = verifyTrustList(
      { bytes, signature: signDetached(bytes, pki.site) },
      { anchors: pki.anchors, publishers: [pki.site.rule] },
    );
    expect(v.trustList.endorsers[0]?.subject).toBe(pki.endorsers.carol.rule.subject);
  });

  it('refuses a list signed by anyone else, a tampered one, and an older one', () => {
    const bytes = list(2);
    const ctx = { anchors: pki.anchors, publishers: [pki.site.rule], highWater: new MemoryHighWaterStore() };
    expect(
      thrownCode(() => verifyTrustList({ bytes, signature: signDetached(bytes, pki.endorsers.alice) }, ctx)),
    ).toBe('NOT_AUTHORISED_SIGNER');
    const signature = signDetached(bytes, pki.site);
    expect(thrownCode(() => verifyTrustList({ bytes: flipByte(bytes, 20), signature }, ctx))).toBe(
      'DIGEST_MISMATCH',
    );
    verifyTrustList({ bytes, signature }, ctx);
    const older = list(1);
    expect(
      thrownCode(() => verifyTrustList({ bytes: older, signature: signDetached(older, pki.site) }, ctx)),
    ).toBe('ROLLBACK');
  });
});
