// S3 bucket → CVMFS end to end with the real services: a private single-node Ceph RGW that
// sends bucket notifications to RabbitMQ (the real producer of the events), `tsw-bridge run`
// as its own process, and every result read back through the verifying CVMFS reader.
// Also: hostile messages dead-lettered with their reason, a SIGKILL between download and
// publish, reconciliation of objects whose notification never came, and a RabbitMQ restart
// (a private broker) in the middle of a stream of events.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RgwInstance, startRgw } from '../../../catalog-server/test/support/ceph-rgw.js';
import { S3FlowSchema } from '../../src/flows/config.js';
import { downloadObject, ObjectGetter } from '../../src/flows/s3/client.js';
import type { Repository } from '../../src/repo/repository.js';
import { type BridgeProcess, createRepoIn, fileAt, startBridge, waitForRepo } from './support/bridge.js';
import { ensureSharedRabbit, type PrivateRabbit, startPrivateRabbit } from './support/rabbit.js';
import { notifyingBucket, s3Client } from './support/rgw-notify.js';
import { tarOf } from './support/tar.js';

const FQRN = 's3.flows.example.org';
const run = randomBytes(4).toString('hex');
const BUCKET = `events-${run}`;
const QUIET = `quiet-${run}`; // mapped, but no notifications: only reconciliation sees it
const STREAM = `stream-${run}`; // notifications to the private broker
const EXCHANGE = `tsw.test.s3.${run}`;
const QUEUE = `tsw.test.bridge.${run}`;
const DLQ = `${QUEUE}.dead`;

let base: string;
let rgw: RgwInstance;
let s3: S3Client;
let repo: Repository;
let pub: string;
let amqpUrl: string;
let bridge: BridgeProcess | undefined;
let privateRabbit: PrivateRabbit | undefined;

function bridgeConfig(extra: Record<string, unknown> = {}, s3Extra: Record<string, unknown> = {}) {
  return {
    storageDir: join(base, 'srv'),
    stateDir: join(base, 'state'),
    workers: 1,
    amqp: { url: amqpUrl, reconnectInitialMs: 200, reconnectMaxMs: 1000 },
    s3: {
      enabled: true,
      endpoint: rgw.endpoint,
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      exchange: EXCHANGE,
      queue: QUEUE,
      deadLetterQueue: DLQ,
      batchDelayMs: 200,
      reconcileIntervalSeconds: 0,
      maxObjectBytes: 10 * 1024 * 1024,
      buckets: [
        { bucket: BUCKET, repository: FQRN },
        { bucket: QUIET, repository: FQRN, path: '/quiet' },
        { bucket: STREAM, repository: FQRN, path: '/stream' },
      ],
      ...s3Extra,
    },
    ...extra,
  };
}

const put = (bucket: string, key: string, body: string | Buffer) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

async function expectFile(path: string, content: string | undefined, timeoutMs = 30_000) {
  const reader = await waitForRepo(
    repo.layout.publicDir,
    FQRN,
    pub,
    async (r) => (await fileAt(r, path)) === content,
    timeoutMs,
  );
  reader.close();
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'tsw-s3flow-'));
  amqpUrl = await ensureSharedRabbit();
  rgw = await startRgw();
  s3 = s3Client(rgw);
  await notifyingBucket(rgw, {
    bucket: BUCKET,
    topic: `t-${run}`,
    exchange: EXCHANGE,
    amqpPort: 5672,
    amqpUrl,
  });
  await s3.send(new CreateBucketCommand({ Bucket: QUIET }));
  repo = createRepoIn(base, FQRN);
  pub = repo.masterPublicKey();
  bridge = await startBridge(base, bridgeConfig());
}, 180_000);

afterAll(async () => {
  await bridge?.stop();
  await privateRabbit?.destroy();
  await rgw?.stop();
  const c = await amqp.connect(amqpUrl).catch(() => undefined);
  if (c) {
    const ch = await c.createChannel();
    for (const q of [QUEUE, DLQ]) await ch.deleteQueue(q).catch(() => {});
    await ch.deleteExchange(EXCHANGE).catch(() => {});
    await c.close().catch(() => {});
  }
  rmSync(base, { recursive: true, force: true });
}, 60_000);

describe('S3 bucket → CVMFS (Ceph RGW notifications through RabbitMQ)', () => {
  it('publishes a put, an overwrite, sub-directories, odd key characters and a delete', async () => {
    await put(BUCKET, 'cvmfs/hello.txt', 'hello 1\n');
    await put(BUCKET, 'cvmfs/deep/sub/dir/a b+c%41.txt', 'odd name\n');
    await put(BUCKET, 'outside/ignored.txt', 'not published\n');
    await expectFile('/hello.txt', 'hello 1\n');
    await expectFile('/deep/sub/dir/a b+c%41.txt', 'odd name\n');
    await put(BUCKET, 'cvmfs/hello.txt', 'hello 2, longer\n');
    await expectFile('/hello.txt', 'hello 2, longer\n');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'cvmfs/deep/sub/dir/a b+c%41.txt' }));
    await expectFile('/deep/sub/dir/a b+c%41.txt', undefined);
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => !(await r.lookup('/deep')),
    );
    expect(await reader.lookup('/outside')).toBeUndefined();
    expect(await fileAt(reader, '/hello.txt')).toBe('hello 2, longer\n');
    reader.close();
  });

  it('unpacks a .tar into a directory of its name, replaces it on overwrite, removes it on delete', async () => {
    await put(
      BUCKET,
      'cvmfs/pkgs/tool.tar',
      await tarOf({ 'bin/tool': '#!/bin/sh\necho 1\n', README: 'v1\n' }, 0o755),
    );
    await expectFile('/pkgs/tool/bin/tool', '#!/bin/sh\necho 1\n');
    await put(BUCKET, 'cvmfs/pkgs/tool.tar', await tarOf({ 'bin/tool2': 'two\n' }, 0o755));
    await expectFile('/pkgs/tool/bin/tool2', 'two\n');
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => !(await r.lookup('/pkgs/tool/README')),
    );
    expect(await reader.lookup('/pkgs/tool/bin/tool')).toBeUndefined();
    reader.close();
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'cvmfs/pkgs/tool.tar' }));
    const gone = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => !(await r.lookup('/pkgs/tool')),
    );
    gone.close();
  });

  it('batches many events into few publishes', async () => {
    const before = repo.manifest().revision;
    await Promise.all(Array.from({ length: 40 }, (_, i) => put(BUCKET, `cvmfs/many/${i}.txt`, `n${i}\n`)));
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await r.list('/many').catch(() => [])).length === 40,
    );
    expect(await fileAt(reader, '/many/39.txt')).toBe('n39\n');
    reader.close();
    expect(repo.manifest().revision - before).toBeLessThanOrEqual(10);
  });

  it('handles every record of a message, URL-encoded keys (aws:s3), and a duplicate harmlessly', async () => {
    await put(QUIET, 'cvmfs/x/one file.txt', 'one\n');
    await put(QUIET, 'cvmfs/x/two+2.txt', 'two\n');
    const record = (key: string) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: QUIET }, object: { key, size: 4 } },
    });
    const body = Buffer.from(
      JSON.stringify({ Records: [record('cvmfs/x/one+file.txt'), record('cvmfs/x/two%2B2.txt')] }),
    );
    const c = await amqp.connect(amqpUrl);
    const ch = await c.createConfirmChannel();
    ch.publish(EXCHANGE, 'injected', body, { persistent: true });
    ch.publish(EXCHANGE, 'injected', body, { persistent: true });
    await ch.waitForConfirms();
    await c.close();
    await expectFile('/quiet/x/one file.txt', 'one\n');
    await expectFile('/quiet/x/two+2.txt', 'two\n');
  });

  it('dead-letters every hostile message with its reason and writes nothing outside the target', async () => {
    const object = (key: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        Records: [
          {
            eventSource: 'ceph:s3',
            eventName: 'ObjectCreated:Put',
            s3: { bucket: { name: BUCKET }, object: { key, size: 10, ...extra } },
          },
        ],
      });
    const hostile: [string, string, string][] = [
      ['bad JSON', '{"Records": [', 'MESSAGE_INVALID'],
      ['no records', '{"hello": 1}', 'MESSAGE_INVALID'],
      ['unknown bucket', object('cvmfs/a').replace(BUCKET, 'somebody-elses-bucket'), 'UNKNOWN_BUCKET'],
      ['dot-dot', object('cvmfs/../../etc/passwd'), 'BAD_KEY'],
      ['dot-dot inside', object('cvmfs/a/../../b'), 'BAD_KEY'],
      ['absolute', object('cvmfs//etc/shadow'), 'BAD_KEY'],
      ['NUL byte', object('cvmfs/a\u0000b'), 'BAD_KEY'],
      ['huge size', object('cvmfs/huge.bin', { size: 2 ** 50 }), 'OBJECT_TOO_LARGE'],
      [
        'bad record',
        JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: {} }] }),
        'MESSAGE_INVALID',
      ],
      [
        'unknown event',
        object('cvmfs/a').replace('ObjectCreated:Put', 'ObjectRestore:Post'),
        'MESSAGE_INVALID',
      ],
      ['huge message', JSON.stringify({ Records: [], pad: 'x'.repeat(1_100_000) }), 'MESSAGE_TOO_LARGE'],
    ];
    const before = repo.manifest().revision;
    const c = await amqp.connect(amqpUrl);
    const ch = await c.createConfirmChannel();
    for (const [name, body] of hostile)
      ch.publish(EXCHANGE, 'hostile', Buffer.from(body), { persistent: true, messageId: name });
    await ch.waitForConfirms();
    const got = new Map<string, { code: string; reason: string }>();
    const deadline = Date.now() + 30_000;
    while (got.size < hostile.length && Date.now() < deadline) {
      const m = await ch.get(DLQ, { noAck: false });
      if (!m) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      ch.ack(m);
      const h = m.properties.headers ?? {};
      got.set(String(m.properties.messageId), {
        code: String(h['x-tsw-reject-code']),
        reason: String(h['x-tsw-reject-reason']),
      });
    }
    await c.close();
    for (const [name, , code] of hostile) {
      expect(got.get(name), name).toBeDefined();
      expect(got.get(name)?.code, name).toBe(code);
      expect(got.get(name)?.reason.length, name).toBeGreaterThan(5);
    }
    expect(repo.manifest().revision).toBe(before);
  });

  it('dead-letters a tar the writer refuses and still publishes the rest of its batch', async () => {
    await put(BUCKET, 'cvmfs/evil.tar', await tarOf({ '../escape.txt': 'out\n', 'ok.txt': 'in\n' }, 0o755));
    await put(BUCKET, 'cvmfs/neighbour.txt', 'fine\n');
    await expectFile('/neighbour.txt', 'fine\n');
    const c = await amqp.connect(amqpUrl);
    const ch = await c.createChannel();
    let dead: { code: string; reason: string } | undefined;
    const deadline = Date.now() + 20_000;
    while (!dead && Date.now() < deadline) {
      const m = await ch.get(DLQ, { noAck: false });
      if (!m) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      ch.ack(m);
      const h = m.properties.headers ?? {};
      if (String(h['x-tsw-reject-reason']).includes('evil.tar'))
        dead = { code: String(h['x-tsw-reject-code']), reason: String(h['x-tsw-reject-reason']) };
    }
    await c.close();
    expect(dead?.code).toBe('BAD_PATH');
    expect(dead?.reason).toContain('..');
    const reader = await waitForRepo(repo.layout.publicDir, FQRN, pub, async () => true);
    expect(await reader.lookup('/evil')).toBeUndefined();
    expect(await reader.lookup('/escape.txt')).toBeUndefined();
    reader.close();
  });

  it('loses nothing when killed between download and publish', async () => {
    await bridge?.stop();
    bridge = await startBridge(base, bridgeConfig({}, { pauseBeforePublishMs: 60_000 }));
    const before = repo.manifest().revision;
    await put(BUCKET, 'cvmfs/crash/survivor.txt', 'made it\n');
    await bridge.waitForLog((l) => l.msg === 'S3 batch staged', 30_000);
    bridge.proc.kill('SIGKILL');
    await bridge.proc;
    expect(repo.manifest().revision).toBe(before);
    bridge = await startBridge(base, bridgeConfig());
    await expectFile('/crash/survivor.txt', 'made it\n');
  });

  it('reconciliation publishes objects and removals no notification announced', async () => {
    await put(QUIET, 'cvmfs/late/arrival.txt', 'healed\n');
    await s3.send(new DeleteObjectCommand({ Bucket: QUIET, Key: 'cvmfs/x/two+2.txt' }));
    await bridge?.stop();
    bridge = await startBridge(base, bridgeConfig({}, { reconcileIntervalSeconds: 2 }));
    await expectFile('/quiet/late/arrival.txt', 'healed\n');
    await expectFile('/quiet/x/two+2.txt', undefined);
    await expectFile('/quiet/x/one file.txt', 'one\n');
  });

  it('loses nothing when RabbitMQ restarts in the middle of a stream of events', async () => {
    await bridge?.stop();
    privateRabbit = await startPrivateRabbit();
    const exchange = `tsw.test.stream.${run}`;
    await notifyingBucket(rgw, {
      bucket: STREAM,
      topic: `stream-${run}`,
      exchange,
      amqpPort: privateRabbit.port,
      amqpUrl: privateRabbit.url,
    });
    const config = bridgeConfig(
      { amqp: { url: privateRabbit.url, reconnectInitialMs: 200, reconnectMaxMs: 1000 } },
      { exchange, reconcileIntervalSeconds: 3 },
    );
    bridge = await startBridge(base, config);
    const total = 30;
    for (let i = 0; i < total; i++) {
      if (i === 10) await privateRabbit.stop();
      if (i === 20) await privateRabbit.start();
      await put(STREAM, `cvmfs/n/${i}.txt`, `event ${i}\n`).catch(() =>
        put(STREAM, `cvmfs/n/${i}.txt`, `event ${i}\n`),
      );
    }
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await r.list('/stream/n').catch(() => [])).length === total,
      60_000,
    );
    for (let i = 0; i < total; i++) expect(await fileAt(reader, `/stream/n/${i}.txt`)).toBe(`event ${i}\n`);
    reader.close();
    const status = (await bridge.status()) as { amqp: { connected: boolean; reconnects: number } };
    expect(status.amqp.reconnects).toBeGreaterThanOrEqual(1);
    // Events after the restart flow through the reconnected consumer again (no reconciliation needed).
    await put(STREAM, 'cvmfs/n/after.txt', 'after\n');
    await expectFile('/stream/n/after.txt', 'after\n', 10_000);
  }, 180_000);
  it('downloads through its own signed GETs: odd keys, a missing object, limits, refused credentials', async () => {
    const config = (secretAccessKey: string) =>
      S3FlowSchema.parse({ endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey });
    const getter = new ObjectGetter(config(rgw.secretAccessKey));
    const file = join(base, 'get-test');
    const bucket = `get-${run}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const opts = { file, maxBytes: 1024, inline: () => true };
    try {
      const key = "cvmfs/get/ä ö+&=?#%2F!'()*~;@$,[].txt";
      await put(bucket, key, 'odd\n');
      const got = await downloadObject(getter, bucket, key, opts);
      expect(got?.bytes?.toString()).toBe('odd\n');
      expect(got?.etag).toMatch(/^[0-9a-f]{32}$/);
      // Over the limit: kept on disk when not inline, refused when larger than maxBytes.
      await put(bucket, 'cvmfs/get/big', Buffer.alloc(2048, 1));
      await expect(downloadObject(getter, bucket, 'cvmfs/get/big', opts)).rejects.toMatchObject({
        code: 'OBJECT_TOO_LARGE',
      });
      const onDisk = await downloadObject(getter, bucket, 'cvmfs/get/big', {
        ...opts,
        maxBytes: 4096,
        inline: () => false,
      });
      expect(onDisk).toEqual({ etag: expect.any(String), sizeBytes: 2048 });
      expect(await downloadObject(getter, bucket, 'cvmfs/get/never-put', opts)).toBeUndefined();
      const wrong = new ObjectGetter(config('not-the-secret'));
      await expect(downloadObject(wrong, bucket, key, opts)).rejects.toMatchObject({
        code: 'S3_FAILED',
        message: expect.stringMatching(/HTTP 403 SignatureDoesNotMatch/),
      });
      wrong.close();
    } finally {
      getter.close();
    }
  });
});
