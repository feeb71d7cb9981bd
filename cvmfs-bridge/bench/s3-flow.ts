// Benchmark of the S3 bucket → CVMFS flow with the real services: a private Ceph RGW sending
// bucket notifications to RabbitMQ, and `tsw-bridge run` (from dist/) at its default batching.
//   1. latency: 200 puts at a steady rate; for each, the time from the put until the file is
//      readable in a new repository revision (through the verifying reader): p50, p99, max.
//   2. throughput: 10,000 small objects uploaded with --put-parallel (128) PutObject calls; objects/s
//      from the first put until all are readable (bounded by the S3 server's put rate), and
//   3. the bridge's own rate: 10,000 more put while it is stopped, drained after its start.
// References in the same run: the bare PutObject upload itself (notifications on: what the
// flow cannot beat), GetObject of the backlog's objects through the AWS SDK and through the
// bridge's own GET path, and a direct `withTransaction` publish of the same 10,000 files.
// Usage: pnpm --filter @trustswarm/cvmfs-bridge exec tsx --conditions=@trustswarm/source bench/s3-flow.ts
//        [-- --latency-puts 200 --bulk-objects 10000 --object-bytes 1024 --put-parallel 128
//         --download-concurrency 32 --phases latency,live,backlog --out FILE]
// TSW_BENCH_BRIDGE_LOG=FILE saves the bridge's log; TSW_BENCH_BRIDGE_NODE_ARGS="--cpu-prof ..."
// passes node flags to the drained bridge.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startRgw } from '../../catalog-server/test/support/ceph-rgw.js';
import { S3FlowSchema } from '../src/flows/config.js';
import { downloadObject, ObjectGetter } from '../src/flows/s3/client.js';
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
    /** PutObject calls in flight for the bulk uploads (the uploader's parallelism; at 32 the
     *  live phase measured the uploader's round trips more than the S3 server). */
    'put-parallel': { type: 'string', default: '128' },
    /** The bridge's s3.downloadConcurrency, also the parallelism of the GetObject reference. */
    'download-concurrency': { type: 'string', default: '32' },
    /** Which phases to run: latency, live, backlog (comma-separated). */
    phases: { type: 'string', default: 'latency,live,backlog' },
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
const PUT_PARALLEL = Number(values['put-parallel']);
const DOWNLOADS = Number(values['download-concurrency']);
const PHASES = new Set(values.phases.split(','));
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
  const s3 = s3Client(rgw, Math.max(PUT_PARALLEL, DOWNLOADS));
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
      downloadConcurrency: DOWNLOADS,
    },
  };
  let bridge = await startBridge(base, bridgeConfig);
  const put = (key: string, body: Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const bodies = Array.from({ length: BULK }, () => randomBytes(OBJECT_BYTES));
  const upload = (dir: string) =>
    mapLimit(
      bodies.map((b, i) => [i, b] as const),
      PUT_PARALLEL,
      ([i, b]) => put(`cvmfs/${dir}/${Math.floor(i / 1000)}/o${i}`, b),
    );
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    defaults: { batchDelayMs: 1000, batchMaxEvents: 2000 },
    downloadConcurrency: DOWNLOADS,
    putParallel: PUT_PARALLEL,
    goals: { p99Ms: 5000, objectsPerSecond: 500 },
  };
  try {
    // Warm-up: the first notification and publish open connections and caches.
    await put('cvmfs/warm', Buffer.from('warm'));
    await waitReadable(settings.storageDir, pub, '/', 1, 60_000);

    if (PHASES.has('latency')) result.latency = await latencyPhase(put, settings.storageDir, pub);

    const throughput: Record<string, number> = { objects: BULK, objectBytes: OBJECT_BYTES };
    result.throughput = throughput;
    if (PHASES.has('live')) {
      // 2. a live bulk upload: the uploader's PutObject calls (notifications on) are the reference.
      const tBulk = Date.now();
      await upload('bulk');
      const uploadSeconds = (Date.now() - tBulk) / 1000;
      log(
        `reference: PutObject upload of ${BULK} objects (${PUT_PARALLEL} parallel): ${(BULK / uploadSeconds).toFixed(0)} objects/s (${uploadSeconds.toFixed(1)} s)`,
      );
      await waitReadable(settings.storageDir, pub, '/bulk', BULK, 600_000);
      const flowSeconds = (Date.now() - tBulk) / 1000;
      log(
        `flow: ${BULK} objects put → readable: ${(BULK / flowSeconds).toFixed(0)} objects/s (${flowSeconds.toFixed(1)} s)`,
      );
      throughput.flowObjectsPerSecond = BULK / flowSeconds;
      throughput.referencePutObjectPerSecond = BULK / uploadSeconds;
    }

    if (PHASES.has('backlog')) {
      // 3. backlog: the same number of objects put while the bridge is down (their events wait in
      // the durable queue); objects/s from the bridge's start until all are readable. This is the
      // bridge's own rate, not bounded by how fast the S3 server accepts puts.
      await bridge.stop();
      await upload('backlog');
      const loadBacklog = loadavg()[0] ?? 0;
      const tBacklog = Date.now();
      bridge = await startBridge(
        base,
        bridgeConfig,
        {},
        process.env.TSW_BENCH_BRIDGE_NODE_ARGS?.split(' ') ?? [],
      );
      await waitReadable(settings.storageDir, pub, '/backlog', BULK, 600_000);
      const backlogSeconds = (Date.now() - tBacklog) / 1000;
      log(
        `flow: backlog of ${BULK} queued events drained → readable: ${(BULK / backlogSeconds).toFixed(0)} objects/s (${backlogSeconds.toFixed(1)} s, bridge start included; load ${loadBacklog.toFixed(1)} before)`,
      );
      const metrics = await bridge.metrics();
      const publishSeconds = Number(
        /tsw_bridge_publish_seconds_sum\{flow="s3"\} ([0-9.e+-]+)/.exec(metrics)?.[1],
      );
      const publishes = Number(/tsw_bridge_publish_seconds_count\{flow="s3"\} (\d+)/.exec(metrics)?.[1]);
      log(
        `  of which publishing: ${publishSeconds.toFixed(1)} s in ${publishes} publishes (overlapping the next batch's GETs)`,
      );
      result.backlogBreakdown = breakdown(bridge.logs, tBacklog);
      throughput.flowBacklogObjectsPerSecond = BULK / backlogSeconds;
      throughput.flowBacklogPublishSeconds = publishSeconds;

      // Reference: the S3 server's own GET rate for the same objects, same parallelism as the bridge.
      const tGet = Date.now();
      await mapLimit([...bodies.keys()], DOWNLOADS, async (i) => {
        const got = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: `cvmfs/backlog/${Math.floor(i / 1000)}/o${i}` }),
        );
        await got.Body?.transformToByteArray();
      });
      const getSeconds = (Date.now() - tGet) / 1000;
      log(
        `reference: GetObject of the same ${BULK} objects (${DOWNLOADS} parallel): ${(BULK / getSeconds).toFixed(0)} objects/s`,
      );
      throughput.referenceGetObjectPerSecond = BULK / getSeconds;

      // Reference: the bridge's own GET path alone (signed node:http requests, no publishing).
      const getter = new ObjectGetter(S3FlowSchema.parse({ ...bridgeConfig.s3 }));
      const tLean = Date.now();
      await mapLimit([...bodies.keys()], DOWNLOADS, async (i) => {
        const got = await downloadObject(getter, bucket, `cvmfs/backlog/${Math.floor(i / 1000)}/o${i}`, {
          file: join(base, 'unused'),
          maxBytes: 1024 * 1024,
          inline: () => true,
        });
        if (got?.bytes?.length !== OBJECT_BYTES) throw new Error('short GET');
      });
      const leanSeconds = (Date.now() - tLean) / 1000;
      getter.close();
      log(
        `reference: the bridge's GET path alone, same objects (${DOWNLOADS} parallel): ${(BULK / leanSeconds).toFixed(0)} objects/s`,
      );
      throughput.referenceBridgeGetPerSecond = BULK / leanSeconds;
    }

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
    throughput.referenceDirectPublishPerSecond = BULK / directSeconds;

    if (process.env.TSW_BENCH_BRIDGE_LOG)
      writeFileSync(process.env.TSW_BENCH_BRIDGE_LOG, JSON.stringify(bridge.logs));
    const retries = bridge.logs.filter((l) => String(l.msg).startsWith('S3 batch failed'));
    if (retries.length > 0) log(`bridge retried ${retries.length} batches, e.g.: ${String(retries[0]?.msg)}`);
    const loadEnd = loadavg()[0] ?? 0;
    log(
      `load average: ${loadStart.toFixed(1)} at start, ${loadEnd.toFixed(1)} at end (${cpus().length} cpus)`,
    );
    result.machine = { cpus: cpus().length, loadAverage1mStart: loadStart, loadAverage1mEnd: loadEnd };
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${values.out}`);
  } finally {
    await bridge.stop();
    await rgw.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** 1. latency: puts at a steady rate; for each, put → readable in a new revision. */
async function latencyPhase(
  put: (key: string, body: Buffer) => Promise<unknown>,
  storageDir: string,
  pub: string,
) {
  const putAt = new Map<string, number>();
  const readableAt = new Map<string, number>();
  let done = false;
  const watcher = (async () => {
    let revision = 0;
    while (!done) {
      const r = await readRepo(join(storageDir, FQRN), FQRN, pub).catch(() => undefined);
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
  return latency;
}

/** Where the backlog drain's time went, from the bridge's log: start-up, then each batch. */
function breakdown(logs: Record<string, unknown>[], t0: number) {
  const at = (msg: string) => {
    const line = logs.find((l) => l.msg === msg && Number(l.time) >= t0);
    return line ? Number(line.time) - t0 : undefined;
  };
  const batches = logs
    .filter((l) => l.msg === 'S3 batch done' && Number(l.time) >= t0)
    .map((l) => {
      const ms = (k: string) => Number(l[k] ?? 0);
      const end = Number(l.time) - t0;
      return {
        startMs: end - ms('settleMs') - ms('publishMs') - ms('waitMs') - ms('downloadMs'),
        endMs: end,
        events: ms('events'),
        objects: ms('objects'),
        downloadMs: ms('downloadMs'),
        waitMs: ms('waitMs'),
        publishMs: ms('publishMs'),
        settleMs: ms('settleMs'),
      };
    });
  const reconcile = logs.find((l) => String(l.msg).startsWith('S3 reconciliation') && Number(l.time) >= t0);
  const out = {
    listeningMs: at('status and metrics listening'),
    amqpConnectedMs: at('RabbitMQ connected'),
    reconcile: reconcile
      ? { doneMs: Number(reconcile.time) - t0, listMs: reconcile.listMs, queued: reconcile.queued ?? 0 }
      : undefined,
    batches,
  };
  log(
    `  start: listening +${out.listeningMs} ms, RabbitMQ connected +${out.amqpConnectedMs} ms, reconciliation done +${out.reconcile?.doneMs} ms (listing ${String(out.reconcile?.listMs)} ms, ${String(out.reconcile?.queued)} queued)`,
  );
  for (const b of batches)
    log(
      `  batch +${b.startMs}…+${b.endMs} ms: ${b.events} events, ${b.objects} objects; GETs ${b.downloadMs} ms, waited ${b.waitMs} ms, publish ${b.publishMs} ms, record+ack ${b.settleMs} ms`,
    );
  return out;
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
