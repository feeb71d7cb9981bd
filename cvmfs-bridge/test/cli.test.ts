import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const PKG = join(import.meta.dirname, '..');
const CLI = join(PKG, 'dist', 'cli.js');
const STAND_IN = join(import.meta.dirname, 'fixtures', 'cvmfs_server');
let base: string;
let env: NodeJS.ProcessEnv;

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(join(PKG, '..', 'node_modules', '.bin', 'tsc'), ['-b', PKG]);
  base = tempDir('tsw-cli-');
  env = {
    ...process.env,
    TSW_BRIDGE_STORAGE_DIR: join(base, 'srv'),
    TSW_BRIDGE_STATE_DIR: join(base, 'state'),
  };
  mkdirSync(join(base, 'src', 'bin'), { recursive: true });
  writeFileSync(join(base, 'src', 'bin', 'hello'), 'hello from the cli\n');
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('tsw-bridge CLI', () => {
  it('creates, publishes, lists, reads, tags and verifies a repository', () => {
    expect(cli(['repo', 'create', 'cli.example.org']).code).toBe(0);
    expect(statSync(join(base, 'state', 'cli.example.org', 'cli.example.org.masterkey')).mode & 0o777).toBe(
      0o600,
    );
    expect(statSync(join(base, 'state', 'cli.example.org', 'cli.example.org.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(base, 'srv', 'cli.example.org', '.cvmfs_master_replica'))).toBe(true);
    const pub = cli([
      '--json',
      'repo',
      'publish',
      'cli.example.org',
      join(base, 'src'),
      '--path',
      '/apps',
      '--tag',
      'first',
    ]);
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ backend: 'native', revision: 2, filesStored: 1 });
    expect(cli(['repo', 'ls', 'cli.example.org', '/apps/bin']).stdout).toMatch(/-0644\s+19 hello/);
    expect(cli(['repo', 'cat', 'cli.example.org', '/apps/bin/hello']).stdout).toBe('hello from the cli\n');
    expect(cli(['repo', 'tag', 'cli.example.org']).stdout).toMatch(/^first\trevision 2\t/);
    const verified = JSON.parse(cli(['--json', 'repo', 'verify', 'cli.example.org']).stdout);
    expect(verified).toMatchObject({ ok: true, revision: 2, files: 1 });
    const cfg = cli([
      'repo',
      'client-config',
      'cli.example.org',
      '--url',
      'http://s0.example.org/cvmfs/@fqrn@',
    ]);
    expect(cfg.stdout).toContain('CVMFS_SERVER_URL=http://s0.example.org/cvmfs/cli.example.org');
    expect(cfg.stdout).toContain('-----BEGIN PUBLIC KEY-----');
    expect(cli(['--json', 'repo', 'resign', 'cli.example.org', '--if-expires-within', '1']).stdout).toContain(
      '"resigned":false',
    );
    expect(JSON.parse(cli(['--json', 'repo', 'gc', 'cli.example.org', '--dry-run']).stdout)).toMatchObject({
      objectsDeleted: 0,
    });
  });

  it('prints one-line errors and exits non-zero', () => {
    const cases = [
      [['repo', 'cat', 'cli.example.org', '/missing'], /^tsw-bridge: NOT_FOUND: \/missing does not exist\n$/],
      [['repo', 'create', 'not_a_name'], /^tsw-bridge: BAD_INPUT: repository name/],
      [['repo', 'create', 'cli.example.org'], /^tsw-bridge: EXISTS: /],
      [
        ['repo', 'verify', 'nothere.example.org'],
        /^tsw-bridge: NOT_FOUND: repository nothere.example.org does not exist/,
      ],
      [['repo', 'publish', 'cli.example.org', join(base, 'no-such-dir')], /^tsw-bridge: NOT_FOUND: source /],
      [
        ['--config', join(base, 'none.yaml'), 'repo', 'ls', 'cli.example.org'],
        /^tsw-bridge: CONFIG_INVALID: /,
      ],
    ] as const;
    for (const [args, pattern] of cases) {
      const r = cli([...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const badEnv = cli(['repo', 'ls', 'cli.example.org'], { TSW_BRIDGE_COMPRESSION_LEVEL: '42' });
    expect(badEnv.stderr).toMatch(/^tsw-bridge: CONFIG_INVALID: config compressionLevel/);
    // a misspelt variable is refused before anything runs, not ignored
    const misspelt = cli(['repo', 'ls', 'cli.example.org'], { TSW_BRIDGE_S3_CA_FLIE: '/etc/ca.pem' });
    expect(misspelt.code).toBe(1);
    expect(misspelt.stderr).toBe(
      'tsw-bridge: CONFIG_INVALID: TSW_BRIDGE_S3_CA_FLIE: no such setting (names are TSW_BRIDGE_<KEY PATH>)\n',
    );
    expect(misspelt.stdout).toBe('');
    const printed = cli(['--json', '--print-config', 'repo', 'ls', 'x.example.org'], {
      TSW_BRIDGE_S3_CA_FILE: '/etc/ca.pem',
      TSW_BRIDGE_CONTAINERS_PLATFORMS: '["linux/arm64"]',
      TSW_BRIDGE_KEYSTORE_PASSPHRASE: 'secret',
    });
    expect(printed.stderr).toBe('');
    expect(JSON.parse(printed.stdout)).toMatchObject({
      config: { s3: { caFile: '/etc/ca.pem' } },
      env: { 's3.caFile': 'TSW_BRIDGE_S3_CA_FILE', storageDir: 'TSW_BRIDGE_STORAGE_DIR' },
    });
    expect(cli(['--help']).stdout).toContain('repo');
    expect(cli(['repo', 'publish', '--help']).stdout).toContain('--path');
  });

  it('serves the repository over HTTP and verifies it through the server', async () => {
    const server = spawn(process.execPath, [CLI, '--json', 'repo', 'serve', '--port', '0'], { env });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on('data', (d: Buffer) => resolve(JSON.parse(d.toString()).url));
        server.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cvmfs\/$/);
      const keyFile = join(base, 'state', 'cli.example.org', 'cli.example.org.pub');
      const verified = await new Promise<string>((resolve) => {
        const p = spawn(
          process.execPath,
          [
            CLI,
            '--json',
            'repo',
            'verify',
            'cli.example.org',
            '--url',
            `${url}cli.example.org`,
            '--key',
            keyFile,
          ],
          { env },
        );
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        p.on('exit', () => resolve(out));
      });
      expect(JSON.parse(verified)).toMatchObject({ ok: true, files: 1 });
      const traversal = await fetch(`${url}..%2f..%2fetc%2fpasswd`);
      expect(traversal.status).toBeGreaterThanOrEqual(400);
      const manifest = await fetch(`${url}cli.example.org/.cvmfspublished`);
      expect(manifest.headers.get('cache-control')).toBe('max-age=61');
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('aborts the cvmfs_server transaction when interrupted by SIGTERM', async () => {
    const state = join(base, 'fake-s0');
    const child = spawn(
      process.execPath,
      [CLI, '--backend', 'cvmfs_server', 'repo', 'publish', 'cli.example.org', join(base, 'src')],
      {
        env: {
          ...env,
          TSW_BRIDGE_CVMFS_SERVER_COMMAND: STAND_IN,
          FAKE_CVMFS_STATE: state,
          FAKE_CVMFS_SLOW_INGEST: '30',
        },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(state, 'ingest.started')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/^tsw-bridge: ABORTED: interrupted by SIGTERM; transaction aborted\n$/);
    const calls = readFileSync(join(state, 'calls.log'), 'utf8').trim().split('\n');
    expect(calls.at(-1)).toBe('abort -f cli.example.org');
    expect(existsSync(join(state, 'cli.example.org.transaction'))).toBe(false);
  });
});

describe('a publisher killed with SIGKILL', () => {
  it('leaves the previous revision intact, and the next publish succeeds', async () => {
    const tree = join(base, 'killtree');
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++)
        writeFileSync(join(tree, `d${d}`, `f${f}`), `content ${d}/${f} `.repeat(200));
    }
    const before = JSON.parse(cli(['--json', 'repo', 'verify', 'cli.example.org']).stdout);
    const txn = join(base, 'srv', 'cli.example.org', 'data', 'txn');
    const child = spawn(
      process.execPath,
      [CLI, 'repo', 'publish', 'cli.example.org', tree, '--path', '/killed'],
      { env },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    // Kill once objects are being written, i.e. in the middle of the publish.
    const deadline = Date.now() + 30_000;
    const { readdirSync } = await import('node:fs');
    // txn/ can vanish between two looks (the publisher renames objects out of it).
    const txnEntries = () => {
      try {
        return readdirSync(txn).length;
      } catch {
        return 0;
      }
    };
    while (Date.now() < deadline && txnEntries() === 0) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const after = JSON.parse(cli(['--json', 'repo', 'verify', 'cli.example.org']).stdout);
    expect(after).toMatchObject({ ok: true, revision: before.revision, files: before.files });
    const next = cli(['--json', 'repo', 'publish', 'cli.example.org', tree, '--path', '/killed']);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ revision: before.revision + 1, filesStored: 2000 });
    expect(JSON.parse(cli(['--json', 'repo', 'verify', 'cli.example.org']).stdout)).toMatchObject({
      ok: true,
      files: before.files + 2000,
    });
  });
});

// A publish must reach the disk before its manifest does: objects and catalogs are flushed
// (syncfs) before .cvmfspublished is renamed into place, so a power cut cannot leave a
// manifest that names data the disk never got. Checked on the real system calls (strace).
describe('publish durability', () => {
  /** Runs the CLI under strace and returns the traced syncfs/rename calls in order. */
  function traced(args: string[]): string[] {
    const log = join(base, 'strace.log');
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=syncfs,rename,renameat,renameat2',
        '-o',
        log,
        process.execPath,
        CLI,
        ...args,
      ],
      { env, encoding: 'utf8' },
    );
    if (r.error) throw new Error(`strace could not run (Debian package strace): ${r.error.message}`);
    expect(r.status, r.stderr).toBe(0);
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => /syncfs\(|rename/.test(line) && !line.includes('resumed>'));
  }

  it('flushes the filesystem after the last object and catalog and before the manifest rename', () => {
    const source = join(base, 'durable-src');
    mkdirSync(source);
    for (let i = 0; i < 20; i++) writeFileSync(join(source, `f${i}`), `file ${i}\n`.repeat(i + 1));
    expect(cli(['repo', 'create', 'durable.example.org']).code).toBe(0);
    const calls = traced(['repo', 'publish', 'durable.example.org', source, '--path', '/apps']);
    const manifestRename = calls.findIndex((c) => /rename.*\.cvmfspublished"/.test(c));
    const lastDataRename = calls.findLastIndex((c) => /rename.*\/data\/[0-9a-f]{2}\//.test(c));
    const flush = calls.findLastIndex((c, i) => i < manifestRename && /syncfs\(\d+\)\s+= 0/.test(c));
    expect(manifestRename, calls.join('\n')).toBeGreaterThan(0);
    expect(lastDataRename, 'objects are renamed into data/XX/').toBeGreaterThanOrEqual(0);
    expect(flush, calls.join('\n')).toBeGreaterThan(lastDataRename);
    expect(flush).toBeLessThan(manifestRename);
  });
});
