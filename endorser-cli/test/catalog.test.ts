// Catalog editing and `add image`: versions rise on every change, old versions are kept,
// hashes and .torrent are right (same info hash as create-torrent), duplicates and bad
// input are refused with one line and nothing half-written.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import bencode from 'bencode';
import createTorrent from 'create-torrent';
import parseTorrent from 'parse-torrent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;
const MiB = 1024 * 1024;

beforeAll(() => {
  ensureBuilt();
  box = sandbox();
});
afterAll(() => box.cleanup());

const catalog = () => parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));

function writeRandom(name: string, sizeBytes: number): string {
  const path = join(box.dir, name);
  const buf = Buffer.alloc(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4096) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
  buf.write(name, 0);
  writeFileSync(path, buf);
  return path;
}

function createTorrentInfoHash(path: string, pieceLength: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    createTorrent(path, { pieceLength, announceList: [], name }, (err: Error | null, t: Uint8Array) => {
      if (err) return reject(err);
      parseTorrent(t).then((p: { infoHash: string }) => resolve(p.infoHash), reject);
    });
  });
}

describe('catalog', () => {
  it('refuses to add before a catalog exists', async () => {
    writeRandom('early.img', 1000);
    const r = await box.run(['add', 'image', 'early.img']);
    expectOneLineError(r, 1, /no catalog in .*catalog new/);
  });

  it('new writes version 1; a second new is refused', async () => {
    const r = await box.run(['--json', 'catalog', 'new', 'cms-production', '--lifetime-days', '10']);
    expect(r.exitCode).toBe(0);
    expect(r.json().version).toBe(1);
    const c = catalog();
    expect(c.name).toBe('cms-production');
    expect(Date.parse(c.expires) - Date.parse(c.issued)).toBe(10 * 24 * 3600 * 1000);
    expectOneLineError(await box.run(['catalog', 'new', 'again']), 1, /already exists/);
  });

  it('refuses names the format does not allow, without writing', async () => {
    const other = sandbox();
    try {
      const r = await other.run(['catalog', 'new', 'bad name!']);
      expectOneLineError(r, 1, /name: expected letters/);
      expect(existsSync(join(other.dir, 'catalog.yaml'))).toBe(false);
    } finally {
      other.cleanup();
    }
  });

  it('set-expiry raises the version and keeps the old one in history/', async () => {
    const r = await box.run(['--json', 'catalog', 'set-expiry', '+20d']);
    expect(r.exitCode).toBe(0);
    expect(catalog().version).toBe(2);
    expect(parseCatalog(readFileSync(join(box.dir, 'history', '1', 'catalog.yaml'))).version).toBe(1);
    const inTwoMonths = new Date(Date.now() + 60 * 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const abs = await box.run(['catalog', 'set-expiry', inTwoMonths]);
    expect(abs.exitCode).toBe(0);
    expect(catalog().expires).toBe(inTwoMonths);
    expectOneLineError(
      await box.run(['catalog', 'set-expiry', '2099-01-01T00:00:00Z']),
      2,
      /agents would refuse/,
    );
    expectOneLineError(await box.run(['catalog', 'set-expiry', '2001-01-01T00:00:00Z']), 2, /in the past/);
    expectOneLineError(await box.run(['catalog', 'set-expiry', 'soon']), 2, /expected a date/);
    await box.run(['catalog', 'set-expiry', '+30d']);
  });
});

describe('add image', () => {
  it('records size, sha256, sha512, info hash and torrent sha256 from one read', async () => {
    const path = writeRandom('alma9.qcow2', 9 * MiB + 123);
    const before = catalog().version;
    const r = await box.run(
      [
        '--json',
        'add',
        'image',
        'alma9.qcow2',
        '--sha512',
        '--os',
        'linux',
        '--arch',
        'x86_64',
        '--hypervisor',
        'kvm',
        '--format',
        'qcow2',
        '--vo',
        'cms',
        '--vo',
        'atlas',
        '--cluster',
        'lxcloud',
        '--host',
        'h1',
        '--host',
        'h2',
        '--name',
        'alma9',
        '--entry-version',
        '9.4',
      ],
      {
        env: {
          TSW_ENDORSE_TORRENT_ANNOUNCE: 'http://tracker.example.org/announce',
          TSW_ENDORSE_TORRENT_WEB_SEED_BASE: 'https://origin.example.org',
        },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const c = catalog();
    expect(c.version).toBe(before + 1);
    const entry = c.entries.find((e) => e.name === 'alma9');
    const bytes = readFileSync(path);
    expect(entry?.artifact?.size).toBe(bytes.length);
    expect(entry?.artifact?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(entry?.artifact?.sha512).toBe(createHash('sha512').update(bytes).digest('hex'));
    expect(entry?.image).toEqual({ os: 'linux', arch: 'x86_64', hypervisor: 'kvm', format: 'qcow2' });
    expect(entry?.voTags).toEqual(['cms', 'atlas']);
    expect(entry?.distribution).toEqual({ cluster: 'lxcloud', hosts: ['h1', 'h2'] });

    const torrentPath = join(box.dir, 'torrents', `${entry?.artifact?.infoHash}.torrent`);
    const torrentBytes = readFileSync(torrentPath);
    expect(createHash('sha256').update(torrentBytes).digest('hex')).toBe(entry?.artifact?.torrent.sha256);
    const t = bencode.decode(torrentBytes) as Record<string, unknown> & { info: Record<string, unknown> };
    expect(t.info['piece length']).toBe(4 * MiB);
    // Only the configured tracker and web seed, never a library's public defaults.
    expect(Buffer.from(t.announce as Uint8Array).toString()).toBe('http://tracker.example.org/announce');
    expect((t['announce-list'] as Uint8Array[][]).flat().map((u) => Buffer.from(u).toString())).toEqual([
      'http://tracker.example.org/announce',
    ]);
    expect((t['url-list'] as Uint8Array[]).map((u) => Buffer.from(u).toString())).toEqual([
      `https://origin.example.org/artifacts/${entry?.artifact?.sha256}`,
    ]);
    // Independent check of pieces and info hash: create-torrent over the same file.
    expect(await createTorrentInfoHash(path, 4 * MiB, 'alma9.qcow2')).toBe(entry?.artifact?.infoHash);
  });

  it('handles an empty file and a file of exactly one piece', async () => {
    writeRandom('empty.img', 0);
    const r = await box.run(['--json', 'add', 'image', 'empty.img']);
    expect(r.exitCode).toBe(0);
    const path = writeRandom('onepiece.img', 4 * MiB);
    const r2 = await box.run(['--json', 'add', 'image', 'onepiece.img']);
    expect(r2.exitCode).toBe(0);
    const entry = (r2.json().entry as { artifact: { infoHash: string } }).artifact;
    expect(await createTorrentInfoHash(path, 4 * MiB, 'onepiece.img')).toBe(entry.infoHash);
  });

  it('refuses the same artifact twice, and the same name and version twice', async () => {
    const version = catalog().version;
    expectOneLineError(
      await box.run(['add', 'image', 'alma9.qcow2', '--name', 'other']),
      1,
      /already in the catalog as alma9 9\.4/,
    );
    writeRandom('different.qcow2', 1000);
    expectOneLineError(
      await box.run(['add', 'image', 'different.qcow2', '--name', 'alma9', '--entry-version', '9.4']),
      1,
      /alma9 version 9\.4 is already in the catalog/,
    );
    expect(catalog().version).toBe(version);
  });

  it('names a missing or unreadable artifact and changes nothing', async () => {
    const version = catalog().version;
    expectOneLineError(
      await box.run(['add', 'image', 'missing.qcow2']),
      1,
      /artifact missing\.qcow2: no such file/,
    );
    mkdirSync(join(box.dir, 'a-directory'));
    expectOneLineError(await box.run(['add', 'image', 'a-directory']), 1, /not a regular file/);
    // A FIFO must be refused, not block the command waiting for a writer.
    execFileSync('mkfifo', [join(box.dir, 'a-fifo')]);
    expectOneLineError(await box.run(['add', 'image', 'a-fifo']), 1, /a-fifo: not a regular file/);
    expect(catalog().version).toBe(version);
    expect(readdirSync(box.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('adds several files in one command and one version', async () => {
    writeRandom('m1.img', 5000);
    writeRandom('m2.img', 6000);
    const version = catalog().version;
    const r = await box.run([
      '--json',
      'add',
      'image',
      'm1.img',
      'm2.img',
      '--os',
      'linux',
      '--entry-version',
      '7',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(catalog().version).toBe(version + 1);
    const added = catalog().entries.filter((e) => e.version === '7');
    expect(added.map((e) => e.name).sort()).toEqual(['m1', 'm2']);
    expect(added.every((e) => e.image?.os === 'linux')).toBe(true);
    expectOneLineError(await box.run(['add', 'image', 'm1.img', 'm2.img', '--name', 'x']), 2, /single file/);
  });

  it('remove drops an entry by name or id and raises the version', async () => {
    const entry = catalog().entries.find((e) => e.name === 'empty');
    const version = catalog().version;
    const r = await box.run(['catalog', 'remove', 'empty']);
    expect(r.exitCode).toBe(0);
    expect(catalog().entries.some((e) => e.id === entry?.id)).toBe(false);
    expect(catalog().version).toBe(version + 1);
    expectOneLineError(await box.run(['catalog', 'remove', 'no-such-entry']), 1, /no entry no-such-entry/);
  });

  it('show prints entries; --json gives the catalog', async () => {
    const r = await box.run(['catalog', 'show']);
    expect(r.stdout).toMatch(/alma9 9\.4/);
    const j = await box.run(['--json', 'catalog', 'show']);
    expect((j.json().catalog as { name: string }).name).toBe('cms-production');
  });
});

describe('command line', () => {
  it('prints --help for every command with exit 0', async () => {
    for (const args of [
      [],
      ['catalog'],
      ['catalog', 'new'],
      ['add', 'image'],
      ['sign'],
      ['verify'],
      ['init'],
    ]) {
      const r = await box.run([...args, '--help']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/Usage: tsw-endorse/);
    }
  });

  it('reports usage errors with exit 2 and one line (JSON error object with --json)', async () => {
    expectOneLineError(await box.run(['add', 'image', 'x', '--bogus']), 2, /unknown option '--bogus'/);
    expectOneLineError(await box.run(['frobnicate']), 2, /unknown command/);
    const j = await box.run(['--json', 'catalog', 'remove', 'nothing']);
    expect((j.json().error as { code: string }).code).toBe('ENTRY_NOT_FOUND');
  });

  it('config: defaults < YAML file < TSW_* env < flags', async () => {
    const file = join(box.dir, 'endorse.yaml');
    writeFileSync(
      file,
      'server:\n  url: https://file.example.org\n  timeoutSeconds: 5\ncatalog:\n  lifetimeDays: 7\n',
    );
    const r = await box.run(['--json', '--config', file, 'config'], {
      env: { TSW_ENDORSE_SERVER_TIMEOUT_SECONDS: '9', TSW_ENDORSE_WORKSPACE: '/from/env' },
    });
    const config = r.json().config as {
      server: { url: string; timeoutSeconds: number; uploadRetries: number };
      catalog: { lifetimeDays: number };
      workspace: string;
    };
    expect(config.server.url).toBe('https://file.example.org');
    expect(config.server.timeoutSeconds).toBe(9);
    expect(config.server.uploadRetries).toBe(3);
    expect(config.catalog.lifetimeDays).toBe(7);
    expect(config.workspace).toBe('/from/env');
    const flag = await box.run(['--json', '--config', file, '-C', '/from/flag', 'config'], {
      env: { TSW_ENDORSE_WORKSPACE: '/from/env' },
    });
    expect((flag.json().config as { workspace: string }).workspace).toBe('/from/flag');
    writeFileSync(file, 'server:\n  bogus: 1\n');
    expectOneLineError(await box.run(['--config', file, 'config']), 2, /config: server: Unrecognized key/i);
    expectOneLineError(
      await box.run(['config'], { env: { TSW_ENDORSE_SERVER_TIMEOUT_SECONDS: 'ten' } }),
      2,
      /expected a number/,
    );
    const printed = await box.run(['--print-config'], {
      env: { TSW_ENDORSE_SERVER_URL: 'https://printed.example.org' },
    });
    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toMatch(/url: https:\/\/printed\.example\.org/);
  });
});
