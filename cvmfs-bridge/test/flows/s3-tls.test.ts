// S3 over HTTPS with a site's own CA, end to end with the real services: a private Ceph RGW
// serving TLS (beast frontend, a server certificate for IP:127.0.0.1 that the test PKI's root,
// standing for the site CA, issued), bucket notifications through RabbitMQ, `tsw-bridge run` as its own
// process, and every result read back through the verifying CVMFS reader. The bridge is given
// only the https:// endpoint, so every GET and ListObjectsV2 goes over TLS. Refusals: no
// s3.caFile (the default CAs do not know the site CA) and a caFile of another CA both fail
// closed: nothing is published, the event stays queued (unacked, not dead-lettered), and it
// is published once the bridge is restarted with the right CA.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestPki } from '@trustswarm/policy/testing';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RgwInstance, startRgw } from '../../../catalog-server/test/support/ceph-rgw.js';
import { S3FlowSchema } from '../../src/flows/config.js';
import { downloadObject, listAll, makeS3Client, ObjectGetter } from '../../src/flows/s3/client.js';
import { loadS3Tls } from '../../src/flows/s3/tls.js';
import type { Repository } from '../../src/repo/repository.js';
import { type BridgeProcess, createRepoIn, fileAt, startBridge, waitForRepo } from './support/bridge.js';
import { ensureSharedRabbit } from './support/rabbit.js';
import { notifyingBucket, s3Client } from './support/rgw-notify.js';

const FQRN = 'tls.flows.example.org';
const run = randomBytes(4).toString('hex');
const BUCKET = `tls-events-${run}`;
const QUIET = `tls-quiet-${run}`; // mapped, no notifications: only reconciliation's listing sees it
const EXCHANGE = `tsw.test.s3tls.${run}`;
const QUEUE = `tsw.test.bridge.tls.${run}`;
const DLQ = `${QUEUE}.dead`;

let base: string;
let ca: SiteCa;
let rgw: RgwInstance;
let httpsEndpoint: string;
let s3: S3Client;
let repo: Repository;
let pub: string;
let amqpUrl: string;
let bridge: BridgeProcess | undefined;

interface SiteCa {
  /** PEM of the CA that issued the server certificate. */
  readonly caFile: string;
  /** PEM of a CA that issued nothing the server presents. */
  readonly otherCaFile: string;
  /** Server certificate followed by its private key (radosgw's ssl_certificate). */
  readonly serverCertAndKeyFile: string;
}

/** The test PKI's root as the site CA, the server certificate it issued for IP:127.0.0.1. */
async function makeSiteCa(dir: string): Promise<SiteCa> {
  const pki = await createTestPki(dir);
  const server = pki.issue('127.0.0.1', {
    issuer: pki.root,
    ou: 'hosts',
    subjectAltName: { ip: ['127.0.0.1'] },
    extendedKeyUsage: ['serverAuth'],
  });
  const file = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem, { mode: 0o600 });
    return join(dir, name);
  };
  return {
    caFile: file('ca.pem', pki.root.certificatePem),
    otherCaFile: file('other-ca.pem', pki.rogue.certificatePem),
    serverCertAndKeyFile: file('server-cert-and-key.pem', server.certificatePem + server.privateKeyPem),
  };
}

function bridgeConfig(s3Extra: Record<string, unknown> = {}) {
  return {
    storageDir: join(base, 'srv'),
    stateDir: join(base, 'state'),
    workers: 1,
    amqp: { url: amqpUrl, reconnectInitialMs: 200, reconnectMaxMs: 1000 },
    s3: {
      enabled: true,
      endpoint: httpsEndpoint,
      caFile: ca.caFile,
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      exchange: EXCHANGE,
      queue: QUEUE,
      deadLetterQueue: DLQ,
      batchDelayMs: 200,
      reconcileIntervalSeconds: 0,
      buckets: [
        { bucket: BUCKET, repository: FQRN },
        { bucket: QUIET, repository: FQRN, path: '/quiet' },
      ],
      ...s3Extra,
    },
  };
}

/** Uploads go over plain HTTP (the test's own client): only the bridge talks TLS. */
const put = (bucket: string, key: string, body: string) =>
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

/** A TCP relay to `port` on 127.0.0.1 that counts the connections made through it. */
async function countingRelay(
  port: number,
): Promise<{ endpoint: string; count(): number; close(): Promise<void> }> {
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: relayPort } = server.address() as { port: number };
  return {
    endpoint: `https://127.0.0.1:${relayPort}`,
    count: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function queueDepths(): Promise<{ queued: number; dead: number }> {
  const c = await amqp.connect(amqpUrl);
  try {
    const ch = await c.createChannel();
    const queued = (await ch.checkQueue(QUEUE)).messageCount;
    const dead = (await ch.checkQueue(DLQ)).messageCount;
    return { queued, dead };
  } finally {
    await c.close();
  }
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'tsw-s3tls-'));
  mkdirSync(join(base, 'pki'));
  ca = await makeSiteCa(join(base, 'pki'));
  amqpUrl = await ensureSharedRabbit();
  rgw = await startRgw({ tls: { certificateAndKeyFile: ca.serverCertAndKeyFile } });
  if (!rgw.httpsEndpoint) throw new Error('the test RGW came up without its TLS frontend');
  httpsEndpoint = rgw.httpsEndpoint;
  s3 = s3Client(rgw);
  await notifyingBucket(rgw, {
    bucket: BUCKET,
    topic: `tls-${run}`,
    exchange: EXCHANGE,
    amqpPort: 5672,
    amqpUrl,
  });
  await s3.send(new CreateBucketCommand({ Bucket: QUIET }));
  repo = createRepoIn(base, FQRN);
  pub = repo.masterPublicKey();
}, 180_000);

afterEach(async () => {
  await bridge?.stop();
  bridge = undefined;
});

afterAll(async () => {
  await bridge?.stop();
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

describe('S3 over HTTPS with the site CA (s3.caFile)', () => {
  it('fetches an object announced over AMQP over https and publishes it', async () => {
    bridge = await startBridge(base, bridgeConfig());
    await put(BUCKET, 'cvmfs/tls/hello.txt', 'fetched over TLS\n');
    await expectFile('/tls/hello.txt', 'fetched over TLS\n');
    expect(bridge.logs.some((l) => String(l.msg).startsWith('S3 batch failed'))).toBe(false);
  });

  it('lists over https for reconciliation (s3.caFile given as TSW_BRIDGE_S3_CA_FILE)', async () => {
    await put(QUIET, 'cvmfs/listed/only.txt', 'found by ListObjectsV2\n');
    bridge = await startBridge(base, bridgeConfig({ caFile: '', reconcileIntervalSeconds: 3600 }), {
      TSW_BRIDGE_S3_CA_FILE: ca.caFile,
    });
    await expectFile('/quiet/listed/only.txt', 'found by ListObjectsV2\n');
    expect(bridge.logs.some((l) => String(l.msg).startsWith('S3 reconciliation failed'))).toBe(false);
  });

  it('GETs and lists through the client classes with the CA, and refuses without it', async () => {
    await put(QUIET, 'cvmfs/direct.txt', 'direct\n');
    // The refusing getter goes through a relay that counts its connections (one per attempt).
    const relay = await countingRelay(Number(new URL(httpsEndpoint).port));
    const config = (caFile: string, endpoint = httpsEndpoint) =>
      S3FlowSchema.parse({
        endpoint,
        caFile,
        accessKeyId: rgw.accessKeyId,
        secretAccessKey: rgw.secretAccessKey,
      });
    const opts = { file: join(base, 'direct-get'), maxBytes: 1024, inline: () => true };
    const trusted = new ObjectGetter(config(ca.caFile));
    const lister = makeS3Client(config(ca.caFile));
    const untrusted = new ObjectGetter(config('', relay.endpoint));
    const untrustedLister = makeS3Client(config(''));
    try {
      expect((await downloadObject(trusted, QUIET, 'cvmfs/direct.txt', opts))?.bytes?.toString()).toBe(
        'direct\n',
      );
      expect((await listAll(lister, QUIET, 'cvmfs/')).map((o) => o.key)).toContain('cvmfs/direct.txt');
      await expect(downloadObject(untrusted, QUIET, 'cvmfs/direct.txt', opts)).rejects.toMatchObject({
        code: 'S3_FAILED',
        message: expect.stringMatching(
          /TLS certificate of https:\/\/127\.0\.0\.1:\d+ refused, trusting the default CAs \(s3\.caFile not set\): UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
        ),
      });
      // Not retried as a network error would be (3 attempts): one connection, refused.
      expect(relay.count()).toBe(1);
      await expect(listAll(untrustedLister, QUIET, 'cvmfs/', loadS3Tls(config('')))).rejects.toMatchObject({
        code: 'S3_FAILED',
        message: expect.stringMatching(
          /^list \S+\/cvmfs\/: TLS certificate of https:\/\/127\.0\.0\.1:\d+ refused, trusting the default CAs \(s3\.caFile not set\): UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate$/,
        ),
      });
    } finally {
      trusted.close();
      untrusted.close();
      lister.destroy();
      untrustedLister.destroy();
      await relay.close();
    }
  });

  // Both refusals: the GET fails closed with the certificate named, nothing is published, the
  // event is neither acked nor dead-lettered (a failed batch is retried, as for any S3 trouble),
  // and the same event is published once the bridge trusts the right CA.
  async function refusedThenHealed(name: string, s3Extra: Record<string, unknown>, trusting: RegExp) {
    const key = `cvmfs/refused/${name}.txt`;
    const before = repo.manifest().revision;
    // Reconciliation at start: its ListObjectsV2 is refused the same way.
    bridge = await startBridge(base, bridgeConfig({ ...s3Extra, reconcileIntervalSeconds: 3600 }));
    const reconcile = await bridge.waitForLog((l) => String(l.msg).startsWith('S3 reconciliation failed'));
    expect(reconcile.code).toBe('S3_FAILED');
    expect(String(reconcile.msg)).toContain(
      `: list ${BUCKET}/cvmfs/: TLS certificate of ${httpsEndpoint} refused`,
    );
    expect(reconcile.msg).toMatch(trusting);
    await put(BUCKET, key, `${name}\n`);
    const failed = await bridge.waitForLog((l) => String(l.msg).startsWith('S3 batch failed, will retry'));
    expect(failed.code).toBe('S3_FAILED');
    expect(String(failed.msg)).toContain(`GET ${BUCKET}/${key}: TLS certificate of ${httpsEndpoint} refused`);
    expect(failed.msg).toMatch(trusting);
    // Still refused on the retry, and nothing reached the repository.
    await bridge.waitForLog(
      (l) => String(l.msg).startsWith('S3 batch failed, will retry') && l !== failed,
      10_000,
    );
    expect(bridge.logs.some((l) => l.msg === 'S3 changes published')).toBe(false);
    expect(repo.manifest().revision).toBe(before);
    await bridge.stop();
    bridge = undefined;
    expect(await queueDepths()).toEqual({ queued: 1, dead: 0 });
    // The event was kept: with the site CA the same message is published.
    bridge = await startBridge(base, bridgeConfig());
    await expectFile(`/refused/${name}.txt`, `${name}\n`);
    await bridge.waitForLog((l) => l.msg === 'S3 batch done');
    await new Promise((r) => setTimeout(r, 300));
    expect(await queueDepths()).toEqual({ queued: 0, dead: 0 });
  }

  it('without s3.caFile, fails closed: nothing published, the event stays queued', async () => {
    await refusedThenHealed(
      'no-ca',
      { caFile: '' },
      /refused, trusting the default CAs \(s3\.caFile not set\): UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate/,
    );
  }, 90_000);

  it('with a caFile of another CA, fails closed the same way', async () => {
    await refusedThenHealed(
      'other-ca',
      { caFile: ca.otherCaFile },
      /refused, trusting only the CAs of s3\.caFile \S+other-ca\.pem: UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
    );
  }, 90_000);
});
