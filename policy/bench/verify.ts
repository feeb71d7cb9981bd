// Benchmark: verify a 10,000-entry catalog carrying 3 endorser signatures plus the site's
// approval, end to end through evaluate(). Goal: ≤ 200 ms on the reference machine.
// Reference in the same run: hashing the same bytes alone (the floor any verifier pays).
// Usage: pnpm exec tsx policy/bench/verify.ts [--entries N] [--runs N] [--json FILE]

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluate, MemoryHighWaterStore, serializeDocument, signDetached } from '../src/index.js';
import { createTestPki, makeApproval, makeCatalog, makeEntry } from '../src/testing/index.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '15' },
    json: { type: 'string', default: 'bench-results/policy-verify.json' },
  },
});
const entries = Number(values.entries);
const runs = Number(values.runs);

const pki = await createTestPki(mkdtempSync(join(tmpdir(), 'tsw-bench-')));
const { alice, bob, carol } = pki.endorsers;
const catalog = makeCatalog({
  entries: Array.from({ length: entries }, (_, i) =>
    makeEntry({ voTags: ['cms'], distribution: { cluster: 'lxcloud', subcluster: `kvm${i % 10}` } }),
  ),
});
const bytes = serializeDocument(catalog);
const signatures = [alice, bob, carol].map((s) => signDetached(bytes, s));
const approval = makeApproval([{ catalog, bytes }], {
  threshold: 3,
  endorsers: [alice.rule, bob.rule, carol.rule],
});
const approvalBytes = serializeDocument(approval);
const approvalSignature = signDetached(approvalBytes, pki.site);

const timings: number[] = [];
const cpuTimings: number[] = [];
const hashTimings: number[] = [];
let allowed = 0;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const result = evaluate({
    approval: { bytes: approvalBytes, signature: approvalSignature },
    catalogs: [{ bytes, signatures }],
    anchors: pki.anchors,
    siteSigners: [pki.site.rule],
    highWater: new MemoryHighWaterStore(),
  });
  timings.push(performance.now() - t0);
  const c1 = process.cpuUsage(c0);
  cpuTimings.push((c1.user + c1.system) / 1000);
  allowed = result.allowed.length;
  const h0 = performance.now();
  for (let s = 0; s < 4; s++)
    createHash('sha256')
      .update(s === 3 ? approvalBytes : bytes)
      .digest();
  hashTimings.push(performance.now() - h0);
}
if (allowed !== entries) throw new Error(`expected ${entries} allowed entries, got ${allowed}`);

const sorted = [...timings].sort((a, b) => a - b);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const result = {
  benchmark: 'policy-verify',
  entries,
  signatures: 3,
  catalogBytes: bytes.length,
  approvalBytes: approvalBytes.length,
  runs,
  firstRunMs: timings[0],
  medianMs: median(timings),
  // CPU time of the process during the call: less sensitive to other load on the machine.
  medianCpuMs: median(cpuTimings),
  loadAverage1m: (await import('node:os')).loadavg()[0] ?? 0,
  minMs: sorted[0],
  maxMs: sorted[sorted.length - 1],
  reference: { name: 'sha256 of the same bytes (4 documents)', medianMs: median(hashTimings) },
  goalMs: 200,
  node: process.version,
};
console.log(
  `verify ${entries} entries, ${(bytes.length / 1e6).toFixed(1)} MB catalog, 3 signatures + approval: ` +
    `median ${result.medianMs.toFixed(1)} ms wall, ${result.medianCpuMs.toFixed(1)} ms CPU (first ${result.firstRunMs?.toFixed(1)} ms, min ${result.minMs?.toFixed(1)}, max ${result.maxMs?.toFixed(1)}); ` +
    `hashing alone ${result.reference.medianMs.toFixed(1)} ms; load ${result.loadAverage1m.toFixed(1)}; goal ≤ ${result.goalMs} ms: ${result.medianMs <= result.goalMs ? 'met' : 'NOT met'}`,
);
mkdirSync(dirname(values.json), { recursive: true });
writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
