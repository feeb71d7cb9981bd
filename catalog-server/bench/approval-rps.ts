// Requests per second for /sites/SITE/approval.yaml, plain and with If-None-Match (304), against
// a reference: a bare node:http server answering the same bytes and ETag in the same process.
// The load generator (autocannon) runs in a separate process. Prints a table, writes JSON.
//   pnpm --filter @trustswarm/catalog-server run bench [-- --duration 10 --connections 50]
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { identityOf, serializeDocument, signDetached } from '@trustswarm/policy';
import { createTestPki, makeCatalog } from '@trustswarm/policy/testing';
import { publishCatalog } from '../src/catalog/publish.js';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { ensureApprovalSigned } from '../src/sites/approval-signer.js';
import { SiteAdmin } from '../src/sites/site-admin.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const autocannon = resolve(here, '../node_modules/autocannon/autocannon.js');

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    out: { type: 'string', default: resolve(here, '../../bench-results/catalog-approval-rps.json') },
  },
});

interface Result {
  name: string;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  statusCounts: Record<string, number>;
  errors: number;
}

async function load(name: string, url: string, headers: Record<string, string>): Promise<Result> {
  const args = [autocannon, '-j', '-c', values.connections, '-d', values.duration];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const { stdout } = await run('node', args, { maxBuffer: 16 * 1024 * 1024 });
  const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    statusCodeStats?: Record<string, { count: number }>;
    errors: number;
    non2xx: number;
  };
  const statusCounts = Object.fromEntries(
    Object.entries(report.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]),
  );
  return {
    name,
    requestsPerSecond: Math.round(report.requests.average),
    latencyP50Ms: report.latency.p50,
    latencyP99Ms: report.latency.p99,
    statusCounts,
    errors: report.errors,
  };
}

function referenceServer(bytes: Buffer, etag: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'public, max-age=30' });
      res.end();
      return;
    }
    res.writeHead(200, { etag, 'cache-control': 'public, max-age=30', 'content-type': 'application/yaml' });
    res.end(bytes);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-bench-'));
  const pki = await createTestPki(join(dir, 'pki'));
  const config = loadConfig({
    overrides: {
      server: { port: 0 },
      storage: { sqlitePath: join(dir, 'catalog.db') },
      blobs: { directory: join(dir, 'blobs') },
      trust: { caPath: pki.caPathDir },
    },
  });
  const server = await startServer(config);
  try {
    const { services } = server;
    const admin = await services.accounts.createUser({ name: 'admin', roles: [{ role: 'admin' }] }, 'bench');
    const adminP = { user: admin.user, scopes: ['admin' as const], tokenId: 'bench' };
    const endorser = await services.accounts.createUser(
      {
        name: 'alice',
        roles: [{ role: 'endorser' }],
        endorserIdentity: identityOf(pki.endorsers.alice.certificate).key,
      },
      'bench',
    );
    const sites = new SiteAdmin(services);
    await sites.create(adminP, 'BENCH', 1);
    await sites.setSigner(adminP, 'BENCH', pki.site.certificatePem, pki.site.privateKeyPem);
    await sites.addEndorser(
      adminP,
      'BENCH',
      pki.endorsers.alice.rule.issuer,
      pki.endorsers.alice.rule.subject,
      {},
    );
    await sites.approveEndorser(
      adminP,
      'BENCH',
      pki.endorsers.alice.rule.issuer,
      pki.endorsers.alice.rule.subject,
      true,
    );
    const catalog = makeCatalog();
    const bytes = serializeDocument(catalog);
    await publishCatalog(
      services,
      { user: endorser.user, scopes: ['catalog:write'], tokenId: 'bench' },
      bytes,
      [signDetached(bytes, pki.endorsers.alice)],
    );
    await ensureApprovalSigned(services, 'BENCH');
    const url = `${server.url}/sites/BENCH/approval.yaml`;
    const first = await fetch(url);
    const approval = Buffer.from(await first.arrayBuffer());
    const etag = first.headers.get('etag') ?? '';
    if (first.status !== 200 || !etag) throw new Error(`approval not served: HTTP ${first.status}`);
    const reference = await referenceServer(approval, etag);
    const refUrl = `http://127.0.0.1:${(reference.address() as AddressInfo).port}/sites/BENCH/approval.yaml`;
    const results: Result[] = [];
    try {
      results.push(await load('reference node:http 200', refUrl, {}));
      results.push(await load('tsw-catalog 200', url, {}));
      results.push(await load('reference node:http 304', refUrl, { 'if-none-match': etag }));
      results.push(await load('tsw-catalog 304', url, { 'if-none-match': etag }));
    } finally {
      reference.close();
    }
    const summary = {
      benchmark: 'catalog-server approval.yaml requests per second',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      approvalBytes: approval.length,
      durationSeconds: Number(values.duration),
      connections: Number(values.connections),
      goal: '>= 10000 req/s of 304',
      results,
    };
    console.log(
      `approval.yaml: ${approval.length} bytes, ${values.connections} connections, ${values.duration} s each`,
    );
    for (const r of results) {
      console.log(
        `${r.name.padEnd(26)} ${String(r.requestsPerSecond).padStart(7)} req/s  p50 ${r.latencyP50Ms} ms  p99 ${r.latencyP99Ms} ms  ${JSON.stringify(r.statusCounts)} errors ${r.errors}`,
      );
    }
    await mkdir(dirname(values.out), { recursive: true });
    await writeFile(values.out, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`wrote ${values.out}`);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`approval-rps: ${(err as Error).message}`);
  process.exitCode = 1;
});
