// One blob-store suite on both backends (local directory, S3 on a private Ceph RGW), plus the
// origin and resumable upload over S3.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../src/blobs/blob-store.js';
import { FsBlobStore } from '../src/blobs/fs-blob-store.js';
import { S3BlobStore } from '../src/blobs/s3-blob-store.js';
import { loadConfig } from '../src/config.js';
import { type RunningServer, startServer } from '../src/server.js';
import { bearer, openTestServices, type TestServices, userWithToken } from './helpers.js';
import { type RgwInstance, startRgw } from './support/ceph-rgw.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = async (r: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

let rgw: RgwInstance;
beforeAll(async () => {
  rgw = await startRgw();
}, 120_000);
afterAll(async () => {
  await rgw?.stop();
});

function s3Blobs(directory: string) {
  return {
    backend: 's3' as const,
    directory,
    s3Endpoint: rgw.endpoint,
    s3Bucket: `tsw-${randomUUID().slice(0, 8)}`,
    s3AccessKeyId: rgw.accessKeyId,
    s3SecretAccessKey: rgw.secretAccessKey,
  };
}

describe.each(['fs', 's3'] as const)('blob store on %s', (backend) => {
  let store: BlobStore;
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsw-blobs-'));
    store =
      backend === 'fs'
        ? new FsBlobStore(dir)
        : new S3BlobStore(loadConfig({ overrides: { blobs: s3Blobs(dir) } }).blobs);
    await store.init();
  });

  it('puts, sizes and reads whole and ranged', async () => {
    const bytes = randomBytes(10_000);
    const key = `torrents/${sha256(bytes).slice(0, 40)}`;
    expect(await store.size(key)).toBeUndefined();
    await store.put(key, bytes);
    expect(await store.size(key)).toBe(10_000);
    expect((await text(await store.openRead(key))).equals(bytes)).toBe(true);
    expect(
      (await text(await store.openRead(key, { start: 100, end: 199 }))).equals(bytes.subarray(100, 200)),
    ).toBe(true);
  });

  it('stages an upload in pieces and promotes it only as a whole', async () => {
    const bytes = randomBytes(300_000);
    const id = sha256(bytes);
    await store.staging.append(id, Readable.from([bytes.subarray(0, 1000)]), bytes.length);
    expect(await store.size(`artifacts/${id}`)).toBeUndefined();
    await store.staging.append(id, Readable.from([bytes.subarray(1000)]), bytes.length);
    expect(await store.staging.sha256(id)).toBe(id);
    await store.promoteStaging(id, `artifacts/${id}`);
    expect(await store.size(`artifacts/${id}`)).toBe(bytes.length);
    expect(await store.staging.size(id)).toBe(0);
    await expect(store.staging.append(id, Readable.from([randomBytes(10)]), 5)).rejects.toThrow(
      /exceeds 5 bytes/,
    );
  });

  it('refuses keys outside the layout', async () => {
    await expect(store.put('../etc/passwd', Buffer.from('x'))).rejects.toThrow(/invalid blob key/);
  });
});

describe('origin and resumable upload over S3', () => {
  let t: TestServices;
  let server: RunningServer;
  beforeAll(async () => {
    stagingDir = await mkdtemp(join(tmpdir(), 'tsw-s3-origin-'));
    t = await openTestServices('sqlite', { blobs: s3Blobs(stagingDir) });
    server = await startServer(t.config, { db: t.db });
  });
  let stagingDir: string;
  afterAll(async () => {
    await server.app.close();
    await t.cleanup();
    await rm(stagingDir, { recursive: true, force: true });
  });

  it('uploads an artifact into the bucket and serves ranges of it', async () => {
    const endorser = await userWithToken(server.services, 'ed', [{ role: 'endorser' }], {
      endorserIdentity: 'aa|bb',
    });
    const content = randomBytes(100_000);
    const digest = sha256(content);
    const patch = await fetch(`${server.url}/api/v1/uploads/${digest}`, {
      method: 'PATCH',
      headers: {
        ...bearer(endorser),
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
        'upload-length': String(content.length),
      },
      body: content,
    });
    expect(patch.headers.get('upload-complete')).toBe('?1');
    const part = await fetch(`${server.url}/artifacts/${digest}`, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(content.subarray(1000, 2000))).toBe(true);
    const whole = await fetch(`${server.url}/artifacts/${digest}`);
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(digest);
  });
});
