// Key stores: the encrypted-file store (the default) fully, and the Vault KV v2 client
// against a small real HTTP server that keeps KV v2's contract (no vault binary exists in
// Debian for these machines).
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyStore } from '../../src/flows/keystore/file-store.js';
import { openKeyStore } from '../../src/flows/keystore/index.js';
import { VaultKeyStore } from '../../src/flows/keystore/vault-store.js';
import { generateRepositoryKeys, type RepositoryKeys } from '../../src/repo/keys.js';
import { tempDir } from '../helpers.js';

const PASS = 'correct horse battery staple';
let keys: RepositoryKeys;
let dir: string;

beforeAll(() => {
  keys = generateRepositoryKeys('alice.users.example.org', 1024);
  dir = tempDir('tsw-keystore-');
});

describe('encrypted-file key store', () => {
  it('round-trips keys; the file is 0600 and holds no key material in clear', async () => {
    const store = new FileKeyStore(join(dir, 'a'), PASS);
    expect(await store.get('alice.users.example.org')).toBeUndefined();
    await store.put('alice.users.example.org', keys);
    const file = join(dir, 'a', 'alice.users.example.org.keys.enc');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(keys.masterPrivateKeyPem.split('\n')[1]);
    expect(JSON.parse(text)).toMatchObject({ format: 'tsw-keystore-v1', cipher: 'aes-256-gcm' });
    expect(await store.get('alice.users.example.org')).toEqual(keys);
    expect(await new FileKeyStore(join(dir, 'a'), PASS).get('alice.users.example.org')).toEqual(keys);
  });

  it('never replaces stored keys', async () => {
    const store = new FileKeyStore(join(dir, 'b'), PASS);
    await store.put('bob.users.example.org', keys);
    await expect(store.put('bob.users.example.org', keys)).rejects.toMatchObject({ code: 'KEYSTORE_FAILED' });
  });

  it('refuses a wrong passphrase, a tampered file and a file renamed to another repository', async () => {
    const store = new FileKeyStore(join(dir, 'c'), PASS);
    await store.put('carol.users.example.org', keys);
    const file = join(dir, 'c', 'carol.users.example.org.keys.enc');
    await expect(new FileKeyStore(join(dir, 'c'), `${PASS}!`).get('carol.users.example.org')).rejects.toThrow(
      /cannot decrypt/,
    );
    const envelope = JSON.parse(readFileSync(file, 'utf8'));
    const bytes = Buffer.from(envelope.ciphertext, 'base64');
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    writeFileSync(file, JSON.stringify({ ...envelope, ciphertext: bytes.toString('base64') }));
    await expect(store.get('carol.users.example.org')).rejects.toMatchObject({ code: 'KEYSTORE_FAILED' });
    await store.put('dave.users.example.org', keys);
    renameSync(
      join(dir, 'c', 'dave.users.example.org.keys.enc'),
      join(dir, 'c', 'eve.users.example.org.keys.enc'),
    );
    await expect(store.get('eve.users.example.org')).rejects.toThrow(/cannot decrypt/);
    writeFileSync(join(dir, 'c', 'frank.users.example.org.keys.enc'), 'not json');
    await expect(store.get('frank.users.example.org')).rejects.toThrow(/not a key store file/);
  });

  it('refuses a missing or short passphrase and names that could be paths', async () => {
    expect(() => new FileKeyStore(join(dir, 'd'), '')).toThrow(/passphrase/);
    expect(() => new FileKeyStore(join(dir, 'd'), 'short')).toThrow(/passphrase/);
    const store = new FileKeyStore(join(dir, 'd'), PASS);
    await expect(store.put('../../etc/passwd', keys)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(store.get('a/../b.example.org')).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('reads the passphrase from a file or the environment', async () => {
    const passFile = join(dir, 'pass');
    writeFileSync(passFile, `${PASS}\n`);
    const fromFile = openKeyStore(
      {
        backend: 'file',
        directory: join(dir, 'e'),
        passphraseFile: passFile,
        passphraseEnv: 'X',
        vault: {} as never,
      },
      dir,
    );
    await fromFile.put('gina.users.example.org', keys);
    const fromEnv = openKeyStore(
      {
        backend: 'file',
        directory: join(dir, 'e'),
        passphraseFile: '',
        passphraseEnv: 'TSW_PASS',
        vault: {} as never,
      },
      dir,
      { TSW_PASS: PASS },
    );
    expect(await fromEnv.get('gina.users.example.org')).toEqual(keys);
    expect(() =>
      openKeyStore(
        {
          backend: 'file',
          directory: '',
          passphraseFile: '',
          passphraseEnv: 'UNSET_VAR',
          vault: {} as never,
        },
        dir,
        {},
      ),
    ).toThrow(/passphrase/);
  });
});

describe('Vault KV v2 key store (against a small KV v2 HTTP server)', () => {
  const TOKEN = 's.test-token';
  const secrets = new Map<string, unknown>();
  const seen: { method: string; url: string; namespace: string | undefined }[] = [];
  let server: Server;
  let address: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          namespace: req.headers['x-vault-namespace'] as string | undefined,
        });
        const send = (status: number, json: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(json));
        };
        if (req.headers['x-vault-token'] !== TOKEN) return send(403, { errors: ['permission denied'] });
        const m = /^\/v1\/secret\/data\/(.+)$/.exec(req.url ?? '');
        if (!m?.[1]) return send(404, { errors: [] });
        const path = m[1];
        if (req.method === 'GET') {
          if (!secrets.has(path)) return send(404, { errors: [] });
          return send(200, { data: { data: secrets.get(path), metadata: { version: 1 } } });
        }
        const doc = JSON.parse(body) as { options?: { cas?: number }; data: unknown };
        if (doc.options?.cas === 0 && secrets.has(path))
          return send(400, { errors: ['check-and-set parameter did not match the current version'] });
        secrets.set(path, doc.data);
        return send(200, { data: { version: 1 } });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    address = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const options = () => ({
    address,
    mount: 'secret',
    pathPrefix: 'tsw-bridge/repositories',
    token: TOKEN,
    namespace: 'physics',
    timeoutSeconds: 5,
  });

  it('stores with check-and-set 0, reads back, and never overwrites', async () => {
    const store = new VaultKeyStore(options());
    expect(await store.get('grp.groups.example.org')).toBeUndefined();
    await store.put('grp.groups.example.org', keys);
    expect(secrets.has('tsw-bridge/repositories/grp.groups.example.org')).toBe(true);
    expect(await store.get('grp.groups.example.org')).toEqual(keys);
    await expect(store.put('grp.groups.example.org', keys)).rejects.toThrow(/already stored/);
    expect(seen.every((s) => s.namespace === 'physics')).toBe(true);
  });

  it('fails closed on a wrong token, a non-key secret, an unreachable server and no token', async () => {
    await expect(
      new VaultKeyStore({ ...options(), token: 'wrong' }).get('grp.groups.example.org'),
    ).rejects.toThrow(/HTTP 403/);
    secrets.set('tsw-bridge/repositories/odd.groups.example.org', { hello: 'world' });
    await expect(new VaultKeyStore(options()).get('odd.groups.example.org')).rejects.toThrow(/not a key set/);
    await expect(
      new VaultKeyStore({ ...options(), address: 'http://127.0.0.1:1' }).get('grp.groups.example.org'),
    ).rejects.toMatchObject({ code: 'KEYSTORE_FAILED' });
    expect(() => new VaultKeyStore({ ...options(), token: '' })).toThrow(/no Vault token/);
  });
});
