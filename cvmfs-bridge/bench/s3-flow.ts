// Benchmark of the S3 bucket → CVMFS flow with the real services: a private Ceph RGW sending
// bucket notifications to RabbitMQ, and `tsw-bridge run` (from dist/) at its default batching.
//   1. latency: 200 puts at a steady rate; for each, the time from the put until the file is
//      readable in a new repository revision (through the verifying reader): p50, p99, max.
//   2. throughput: 10,000 small objects uploaded with 32 parallel PutObject calls; objects/s
//      from the first put until all are readable (bounded by the S3 server's put rate), and
//   3. the bridge's own rate: 10,000 more put while it is stopped, drained after its start.
// References in the same run: the bare PutObject upload itself (notifications on: what the
// flow cannot beat), and a direct `withTransaction` publish of the same 10,000 files.
// Usage: pnpm --filter @trustswarm/cvmfs-bridge exec tsx --conditions=@trustswarm/source bench/s3-flow.ts
//        [-- --latency-puts 200 --bulk-objects 10000 --object-bytes 1024 --out FILE]
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startRgw } from '../../catalog-server/test/support/ceph-rgw.js';
import { mapLimit } from '../src/flows/s3/map-limit.js';
import { generateRepositoryKeys } from '../src/repo/keys.js';
import { DEFAULT_REPO_SETTINGS, Repository } from '../src/repo/repository.js';
import { withTransaction } from '../src/writer/publish.js';
import { readRepo, startBridge } from '../test/flows/support/bridge.js';
import { ensureSharedRabbit } from '../test/flows/support/rabbit.js';
import { notifyingBucket, s3Client } from '../test/flows/support/rgw-notify.js';

const { values } = parseArgs({
  options: {
    'latency-puts': { type: 'string', default: '200' },
    'latency-rate': { type: 'string', default: '10' },
    'bulk-objects': { type: 'string', default: '10000' },
    'object-bytes': { type: 'string', default: '1024' },
    out: {
      type: 'string',
      default: join(import.meta.dirname, '..', '..', 'bench-results', 's3-flow.json'),
    },
  },
});
const LATENCY_PUTS = Number(values['latency-puts']);
const RATE = Number(values['latency-rate']);
const BULK = Number(values['bulk-objects']);
const OBJECT_BYTES = Number(values['object-bytes']);
const FQRN = 'bench.s3.example.org';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'tsw-s3bench-'));
  const loadStart = loadavg()[0] ?? 0;
  const amqpUrl = await ensureSharedRabbit();
  const rgw = await startRgw();
  const run = randomBytes(4).toString('hex');
  const bucket = `bench-${run}`;
  const exchange = `tsw.bench.${run}`;
  const s3 = s3Client(rgw);
  const settings = { ...DEFAULT_REPO_SETTINGS, storageDir: join(base, 'srv'), stateDir: join(base, 'state') };
  const repo = Repository.create(FQRN, settings, new Date(), generateRepositoryKeys(FQRN));
  const pub = repo.masterPublicKey();
  await notifyingBucket(rgw, { bucket, topic: `bench-${run}`, exchange, amqpPort: 5672, amqpUrl });
  const bridgeConfig = {
    storageDir: settings.storageDir,
    stateDir: settings.stateDir,
    amqp: { url: amqpUrl },
    s3: {
      enabled: true,
      endpoint: rgw.endpoint,
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      exchange,
      queue: `tsw.bench.${run}`,
      deadLetterQueue: `tsw.bench.${run}.dead`,
      buckets: [{ bucket, repository: FQRN }],
    },
  };
  let bridge = await startBridge(base, bridgeConfig);
  const put = (key: string, body: Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  try {
    // Warm-up: the first notification and publish open connections and caches.
    await put('cvmfs/warm', Buffer.from('warm'));
    await waitReadable(settings.storageDir, pub, '/', 1, 60_000);

    // 1. latency
    const putAt = new Map<string, number>();
    const readableAt = new Map<string, number>();
    let done = false;
    const watcher = (async () => {
      let revision = 0;
      while (!done) {
        const r = await readRepo(join(settings.storageDir, FQRN), FQRN, pub).catch(() => undefined);
        if (r && r.revision !== revision) {
          revision = r.revision;
          const now = Date.now();
          for (const d of await r.list('/lat').catch(() => []))
            if (!readableAt.has(d.name)) readableAt.set(d.name, now);
        }
        r?.close();
        await sleep(25);
      }
    })();
    const t0 = Date.now();
    for (let i = 0; i < LATENCY_PUTS; i++) {
      const name = `f${i}`;
      const wait = t0 + (i * 1000) / RATE - Date.now();
      if (wait > 0) await sleep(wait);
      putAt.set(name, Date.now());
      void put(`cvmfs/lat/${name}`, randomBytes(OBJECT_BYTES));
    }
    const deadline = Date.now() + 120_000;
    while (readableAt.size < LATENCY_PUTS && Date.now() < deadline) await sleep(100);
    done = true;
    await watcher;
    const latencies = [...putAt]
      .map(([n, t]) => (readableAt.get(n) ?? Number.POSITIVE_INFINITY) - t)
      .sort((a, b) => a - b);
    const latency = {
      puts: LATENCY_PUTS,
      ratePerSecond: RATE,
      readable: readableAt.size,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? Number.NaN,
    };
    log(
      `latency put → readable (${LATENCY_PUTS} puts at ${RATE}/s): p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms`,
    );

    // 2. throughput
    const bodies = Array.from({ length: BULK }, () => randomBytes(OBJECT_BYTES));
    const tBulk = Date.now();
    await mapLimit(
      bodies.map((b, i) => [i, b] as const),
      32,
      ([i, b]) => put(`cvmfs/bulk/${Math.floor(i / 1000)}/o${i}`, b),
    );
    const uploadSeconds = (Date.now() - tBulk) / 1000;
    log(
      `reference: PutObject upload of ${BULK} objects: ${(BULK / uploadSeconds).toFixed(0)} objects/s (${uploadSeconds.toFixed(1)} s)`,
    );
    await waitReadable(settings.storageDir, pub, '/bulk', BULK, 600_000);
    const flowSeconds = (Date.now() - tBulk) / 1000;
    log(
      `flow: ${BULK} objects put → readable: ${(BULK / flowSeconds).toFixed(0)} objects/s (${flowSeconds.toFixed(1)} s)`,
    );

    // 3. backlog: the same number of objects put while the bridge is down (their events wait in
    // the durable queue); objects/s from the bridge's start until all are readable. This is the
    // bridge's own rate, not bounded by how fast the S3 server accepts puts.
    await bridge.stop();
    await mapLimit(
      bodies.map((b, i) => [i, b] as const),
      32,
      ([i, b]) => put(`cvmfs/backlog/${Math.floor(i / 1000)}/o${i}`, b),
    );
    const tBacklog = Date.now();
    bridge = await startBridge(base, bridgeConfig);
    await waitReadable(settings.storageDir, pub, '/backlog', BULK, 600_000);
    const backlogSeconds = (Date.now() - tBacklog) / 1000;
    log(
      `flow: backlog of ${BULK} queued events drained → readable: ${(BULK / backlogSeconds).toFixed(0)} objects/s (${backlogSeconds.toFixed(1)} s, bridge start included)`,
    );
    const metrics = await bridge.metrics();
    const publishSeconds = Number(
      /tsw_bridge_publish_seconds_sum\{flow="s3"\} ([0-9.e+-]+)/.exec(metrics)?.[1],
    );
    const publishes = Number(/tsw_bridge_publish_seconds_count\{flow="s3"\} (\d+)/.exec(metrics)?.[1]);
    log(
      `  of which publishing: ${publishSeconds.toFixed(1)} s in ${publishes} publishes (the rest: S3 GETs, start)`,
    );

    // Reference: the S3 server's own GET rate for the same objects, same parallelism as the bridge.
    const tGet = Date.now();
    await mapLimit([...bodies.keys()], 32, async (i) => {
      const got = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: `cvmfs/backlog/${Math.floor(i / 1000)}/o${i}` }),
      );
      await got.Body?.transformToByteArray();
    });
    const getSeconds = (Date.now() - tGet) / 1000;
    log(
      `reference: GetObject of the same ${BULK} objects (32 parallel): ${(BULK / getSeconds).toFixed(0)} objects/s`,
    );

    // Reference: publish the same bytes directly into another repository.
    const direct = Repository.create(
      'direct.s3.example.org',
      settings,
      new Date(),
      generateRepositoryKeys('x.y.z'),
    );
    const tDirect = Date.now();
    await withTransaction(direct, async (tx) => {
      for (const [i, b] of bodies.entries()) await tx.addFile(`/bulk/${Math.floor(i / 1000)}/o${i}`, b);
    });
    const directSeconds = (Date.now() - tDirect) / 1000;
    log(
      `reference: direct publish of the same ${BULK} objects: ${(BULK / directSeconds).toFixed(0)} objects/s (${directSeconds.toFixed(1)} s)`,
    );

    if (process.env.TSW_BENCH_BRIDGE_LOG)
      writeFileSync(process.env.TSW_BENCH_BRIDGE_LOG, JSON.stringify(bridge.logs));
    const retries = bridge.logs.filter((l) => String(l.msg).startsWith('S3 batch failed'));
    if (retries.length > 0) log(`bridge retried ${retries.length} batches, e.g.: ${String(retries[0]?.msg)}`);
    const loadEnd = loadavg()[0] ?? 0;
    log(
      `load average: ${loadStart.toFixed(1)} at start, ${loadEnd.toFixed(1)} at end (${cpus().length} cpus)`,
    );
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, loadAverage1mStart: loadStart, loadAverage1mEnd: loadEnd },
      defaults: { batchDelayMs: 1000, batchMaxEvents: 2000, downloadConcurrency: 32 },
      latency,
      goals: { p99Ms: 5000, objectsPerSecond: 500 },
      throughput: {
        objects: BULK,
        objectBytes: OBJECT_BYTES,
        flowObjectsPerSecond: BULK / flowSeconds,
        flowBacklogObjectsPerSecond: BULK / backlogSeconds,
        flowBacklogPublishSeconds: publishSeconds,
        referencePutObjectPerSecond: BULK / uploadSeconds,
        referenceGetObjectPerSecond: BULK / getSeconds,
        referenceDirectPublishPerSecond: BULK / directSeconds,
      },
    };
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${values.out}`);
  } finally {
    await bridge.stop();
    await rgw.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** Waits until `dir` (recursively, one level of sub-directories) holds `count` files. */
async function waitReadable(storageDir: string, pub: string, dir: string, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let revision = 0;
  while (Date.now() < deadline) {
    const r = await readRepo(join(storageDir, FQRN), FQRN, pub).catch(() => undefined);
    if (r && r.revision !== revision) {
      revision = r.revision;
      let n = 0;
      for (const d of await r.list(dir).catch(() => [])) {
        if (d.kind === 'dir') n += (await r.list(`${dir === '/' ? '' : dir}/${d.name}`)).length;
        else n++;
      }
      r.close();
      if (n >= count) return;
    } else r?.close();
    await sleep(100);
  }
  throw new Error(`${dir} never held ${count} files`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
