// A walk through the trust core alone: a test PKI, a catalog signed by two endorsers, a
// site approval, the agent's decision, stock OpenSSL confirming every signature, and the
// attacks the core refuses. Run: pnpm exec tsx test/demo/trust-core.ts

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  evaluate,
  MemoryHighWaterStore,
  serializeDocument,
  signDetached,
  TrustError,
} from '@trustswarm/policy';
import {
  createTestPki,
  makeApproval,
  makeCatalog,
  makeEntry,
  opensslCmsVerify,
} from '@trustswarm/policy/testing';

const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false } } });
const started = performance.now();
const dir = mkdtempSync(join(tmpdir(), 'trustswarm-demo-'));
const cleanup = () => {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const step = (text: string) => console.log(`\u001b[1m▸\u001b[0m ${text}`);
const ms = () => `${Math.round(performance.now() - started)} ms`;

try {
  step('making a test PKI: root CA → issuing CA → endorsers, a site certificate, CRLs (CApath layout)');
  const pki = await createTestPki(join(dir, 'pki'));
  const { alice, bob } = pki.endorsers;

  step('endorsers Alice and Bob sign a catalog with a VM image and a repository snapshot');
  const image = makeEntry({ name: 'alma9-kvm', version: '2026.11', voTags: ['cms'] });
  const snapshot = makeEntry({
    kind: 'repo-snapshot',
    name: 'cms-sw',
    version: '14.0.0',
    voTags: ['cms'],
    cvmfs: { repository: 'sw.example.org', path: '/cms/14.0.0' },
  });
  const catalog = makeCatalog({ name: 'cms-production', version: 42, entries: [image, snapshot] });
  const catalogBytes = serializeDocument(catalog);
  const signatures = [alice, bob].map((who) => signDetached(catalogBytes, who));

  step('the site admin approves both entries; the server signs the approval with the site key');
  const trust = { threshold: 2, endorsers: [alice.rule, bob.rule] };
  const approval = makeApproval([{ catalog, bytes: catalogBytes }], trust, { version: 1077 });
  const approvalBytes = serializeDocument(approval);
  const approvalSignature = signDetached(approvalBytes, pki.site);

  step('stock OpenSSL verifies every signature (openssl cms -verify -CApath … -crl_check)');
  for (const [name, bytes, sig] of [
    ['catalog/alice', catalogBytes, signatures[0]],
    ['catalog/bob', catalogBytes, signatures[1]],
    ['approval/site', approvalBytes, approvalSignature],
  ] as const) {
    if (!sig) throw new Error('missing signature');
    const r = opensslCmsVerify(bytes, sig, pki.caPathDir);
    console.log(`    ${name}: ${r.ok ? 'Verification successful' : `FAILED ${r.stderr.trim()}`}`);
    if (!r.ok) throw new Error(`openssl rejected ${name}`);
  }

  step('an agent evaluates: endorsed by 2 of 2 trusted endorsers AND approved by the site');
  const highWater = new MemoryHighWaterStore();
  const input = {
    approval: { bytes: approvalBytes, signature: approvalSignature },
    catalogs: [{ bytes: catalogBytes, signatures }],
    anchors: pki.anchors,
    siteSigners: [pki.site.rule],
    site: 'EXAMPLE-SITE',
    highWater,
  };
  for (const e of evaluate(input).entries) {
    console.log(
      `    ${e.entry?.kind} ${e.entry?.name} ${e.entry?.version}: ${e.allowed ? 'ALLOWED' : `denied (${e.reasons.map((r) => r.code).join(', ')})`}`,
    );
  }

  step('attacks the agent refuses');
  const refuse = (label: string, fn: () => unknown) => {
    try {
      const r = fn() as ReturnType<typeof evaluate>;
      const codes = r.entries.flatMap((e) => e.reasons.map((x) => x.code));
      console.log(
        `    ${label}: ${r.allowed.length === 0 ? `refused (${[...new Set(codes)].join(', ')})` : 'NOT REFUSED'}`,
      );
    } catch (err) {
      if (!(err instanceof TrustError)) throw err;
      console.log(`    ${label}: refused (${err.code})`);
    }
  };
  const tampered = Buffer.from(catalogBytes.toString().replace('alma9-kvm', 'alma9-kvn'));
  refuse('tampered catalog', () => evaluate({ ...input, catalogs: [{ bytes: tampered, signatures }] }));
  const older = serializeDocument({ ...approval, version: 1000 });
  refuse('replayed older approval', () =>
    evaluate({ ...input, approval: { bytes: older, signature: signDetached(older, pki.site) } }),
  );
  refuse('catalog signed by a revoked endorser', () =>
    evaluate({
      ...input,
      catalogs: [
        {
          bytes: catalogBytes,
          signatures: [signDetached(catalogBytes, pki.revoked), signatures[0] ?? Buffer.alloc(0)],
        },
      ],
    }),
  );
  refuse('approval signed by an endorser instead of the site', () =>
    evaluate({ ...input, approval: { bytes: approvalBytes, signature: signDetached(approvalBytes, alice) } }),
  );

  console.log(
    `\n\u001b[1mdone\u001b[0m in ${ms()}. ${values.keep ? `Files kept in ${dir}` : 'Temporary files removed.'}`,
  );
  cleanup();
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  cleanup();
  process.exit(1);
}
