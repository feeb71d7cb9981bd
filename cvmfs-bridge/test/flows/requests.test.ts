// Repositories on request over the real RabbitMQ: `tsw-bridge run` creates the repository,
// keeps its keys in the encrypted key store, answers on the reply queue with the request's
// correlationId, and publishes the public key and client config at a static URL from which
// a verifying reader then mounts the repository. Duplicates are answered, not repeated;
// bad names and malformed requests are refused and dead-lettered with their reason.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyStore } from '../../src/flows/keystore/file-store.js';
import { HttpFetcher } from '../../src/reader/fetcher.js';
import { RepositoryReader } from '../../src/reader/reader.js';
import { startServer } from '../../src/serve.js';
import { tempDir } from '../helpers.js';
import { type BridgeProcess, startBridge } from './support/bridge.js';
import { ensureSharedRabbit } from './support/rabbit.js';

const PASS = randomBytes(16).toString('hex');
const run = randomBytes(4).toString('hex');
const QUEUE = `tsw.test.requests.${run}`;
const DLQ = `${QUEUE}.dead`;

let base: string;
let amqpUrl: string;
let bridge: BridgeProcess;
let server: { app: FastifyInstance; url: string };
let conn: ChannelModel;
let ch: Channel;
let replyQueue: string;
const replies = new Map<string, Record<string, unknown>>();

async function request(body: unknown, opts: { replyTo?: boolean } = {}): Promise<Record<string, unknown>> {
  const correlationId = randomUUID();
  const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  ch.sendToQueue(QUEUE, content, {
    persistent: true,
    correlationId,
    messageId: correlationId,
    ...(opts.replyTo === false ? {} : { replyTo: replyQueue }),
  });
  const deadline = Date.now() + 30_000;
  while (!replies.has(correlationId)) {
    if (Date.now() > deadline) throw new Error('no reply');
    await new Promise((r) => setTimeout(r, 50));
  }
  return replies.get(correlationId) as Record<string, unknown>;
}

async function deadLettered(count: number): Promise<{ code: string; reason: string; id: string }[]> {
  const out: { code: string; reason: string; id: string }[] = [];
  const deadline = Date.now() + 20_000;
  while (out.length < count && Date.now() < deadline) {
    const m = await ch.get(DLQ, { noAck: false });
    if (!m) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    ch.ack(m);
    const h = m.properties.headers ?? {};
    out.push({
      code: String(h['x-tsw-reject-code']),
      reason: String(h['x-tsw-reject-reason']),
      id: String(m.properties.messageId),
    });
  }
  return out;
}

beforeAll(async () => {
  base = tempDir('tsw-requests-');
  amqpUrl = await ensureSharedRabbit();
  server = await startServer({ storageDir: join(base, 'srv'), host: '127.0.0.1', port: 0 });
  bridge = await startBridge(
    base,
    {
      storageDir: join(base, 'srv'),
      stateDir: join(base, 'state'),
      publicUrl: `${server.url}/cvmfs/@fqrn@`,
      amqp: { url: amqpUrl },
      requests: { enabled: true, queue: QUEUE, deadLetterQueue: DLQ, allowedDomains: ['example.org'] },
    },
    { TSW_BRIDGE_KEYSTORE_PASSPHRASE: PASS },
  );
  conn = await amqp.connect(amqpUrl);
  ch = await conn.createChannel();
  replyQueue = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.consume(
    replyQueue,
    (m) => {
      if (m?.properties.correlationId)
        replies.set(
          String(m.properties.correlationId),
          JSON.parse(m.content.toString()) as Record<string, unknown>,
        );
    },
    { noAck: true },
  );
}, 60_000);

afterAll(async () => {
  await bridge?.stop();
  await ch?.deleteQueue(QUEUE).catch(() => {});
  await ch?.deleteQueue(DLQ).catch(() => {});
  await conn?.close().catch(() => {});
  await server?.app.close();
  rmSync(base, { recursive: true, force: true });
});

describe('repositories on request (RabbitMQ request/reply)', () => {
  const alice = {
    requester: 'CN=Alice,O=Example',
    repository: 'cms.groups.example.org',
    kind: 'group',
    owners: ['CN=Alice,O=Example', 'CN=Bob,O=Example'],
  };

  it('creates the repository, stores its keys encrypted, and answers with downloadable key and config', async () => {
    const reply = await request(alice);
    expect(reply).toMatchObject({ status: 'created', repository: alice.repository, revision: 1 });
    const pub = await (await fetch(String(reply.publicKeyUrl))).text();
    expect(pub).toContain('BEGIN PUBLIC KEY');
    const conf = await (await fetch(String(reply.clientConfigUrl))).text();
    expect(conf).toContain(`CVMFS_SERVER_URL=${server.url}/cvmfs/@fqrn@`);
    expect(conf).toContain(`CVMFS_PUBLIC_KEY=/etc/cvmfs/keys/${alice.repository}.pub`);
    // A client with only the downloaded key mounts the repository over HTTP.
    const reader = await RepositoryReader.open(new HttpFetcher(String(reply.repositoryUrl)), {
      fqrn: alice.repository,
      masterPublicKeysPem: [pub],
    });
    expect(reader.revision).toBe(1);
    reader.close();
    const stored = await new FileKeyStore(join(base, 'state', 'keystore'), PASS).get(alice.repository);
    expect(stored?.masterPublicKeyPem).toBe(pub);
    expect(
      readFileSync(join(base, 'state', 'keystore', `${alice.repository}.keys.enc`), 'utf8'),
    ).not.toContain('PRIVATE KEY');
  });

  it('answers a duplicate request without creating anything again', async () => {
    const keyFile = join(base, 'state', 'keystore', `${alice.repository}.keys.enc`);
    const before = readFileSync(keyFile);
    const manifest = readFileSync(join(base, 'srv', alice.repository, '.cvmfspublished'));
    const reply = await request(alice);
    expect(reply).toMatchObject({ status: 'exists', repository: alice.repository, revision: 1 });
    expect(readFileSync(keyFile)).toEqual(before);
    expect(readFileSync(join(base, 'srv', alice.repository, '.cvmfspublished'))).toEqual(manifest);
    const other = await request({ ...alice, requester: 'CN=Mallory', owners: ['CN=Mallory'] });
    expect(other).toMatchObject({ status: 'refused', code: 'NAME_TAKEN' });
    await deadLettered(1);
  });

  it('refuses bad names and malformed requests, dead-letters them with the reason, creates nothing', async () => {
    const bad: [unknown, string][] = [
      [{ ...alice, repository: '../../etc/passwd' }, 'NAME_INVALID'],
      [{ ...alice, repository: 'a/b.example.org' }, 'NAME_INVALID'],
      [{ ...alice, repository: 'Upper.groups.example.org' }, 'NAME_INVALID'],
      [{ ...alice, repository: 'x..example.org' }, 'NAME_INVALID'],
      [{ ...alice, repository: 'trailing.example.org.' }, 'NAME_INVALID'],
      [{ ...alice, repository: 'example.org' }, 'NAME_INVALID'],
      [{ ...alice, repository: 'sw.elsewhere.net' }, 'NAME_INVALID'],
      [{ ...alice, repository: `${'a'.repeat(64)}.example.org` }, 'NAME_INVALID'],
      [{ ...alice, repository: 'nul\u0000.example.org' }, 'NAME_INVALID'],
      [{ ...alice, kind: 'personal', repository: 'alice.users.example.org' }, 'MESSAGE_INVALID'],
      [{ ...alice, kind: 'world', repository: 'w.groups.example.org' }, 'MESSAGE_INVALID'],
      [{ ...alice, extra: 1, repository: 'e.groups.example.org' }, 'MESSAGE_INVALID'],
      ['{"requester": ', 'MESSAGE_INVALID'],
    ];
    for (const [body, code] of bad) {
      const reply = await request(body);
      expect(reply, JSON.stringify(body)).toMatchObject({ status: 'refused', code });
      expect(String(reply.message).length).toBeGreaterThan(5);
    }
    const dead = await deadLettered(bad.length);
    expect(dead.map((d) => d.code)).toEqual(bad.map(([, code]) => code));
    expect(readdirSync(join(base, 'srv')).sort()).toEqual([alice.repository]);
    expect(existsSync(join(base, 'etc'))).toBe(false);
  });

  it('dead-letters a request that has no reply queue', async () => {
    const id = randomUUID();
    ch.sendToQueue(
      QUEUE,
      Buffer.from(JSON.stringify({ ...alice, repository: 'noreply.groups.example.org' })),
      {
        messageId: id,
      },
    );
    const [dead] = await deadLettered(1);
    expect(dead).toMatchObject({ code: 'NO_REPLY_QUEUE', id });
    expect(existsSync(join(base, 'srv', 'noreply.groups.example.org'))).toBe(false);
  });

  it('creates a personal repository owned by its requester', async () => {
    const reply = await request({
      requester: 'CN=Carol',
      repository: 'carol.users.example.org',
      kind: 'personal',
    });
    expect(reply).toMatchObject({ status: 'created', repository: 'carol.users.example.org' });
  });

  it('counts answers and dead-lettered requests in /metrics', async () => {
    const text = await bridge.metrics();
    expect(text).toMatch(/tsw_bridge_repo_requests_total\{status="created"\} 2/);
    expect(text).toMatch(/tsw_bridge_repo_requests_total\{status="refused"\} 14/);
    expect(text).toMatch(/tsw_bridge_dead_lettered_total\{flow="requests",code="NO_REPLY_QUEUE"\} 1/);
  });
});
