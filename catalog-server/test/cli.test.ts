// The built tsw-catalog binary: user and token management, audit-chain verification, clear errors.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'catalog-server/dist/cli.js');

async function tsw(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run('node', [cli, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('tsw-catalog CLI', () => {
  let env: Record<string, string>;
  let dbPath: string;
  let dir: string;
  beforeAll(async () => {
    await run('npx', ['tsc', '-b', 'tsconfig.json'], { cwd: root });
    dir = await mkdtemp(join(tmpdir(), 'tsw-cli-'));
    dbPath = join(dir, 'catalog.db');
    env = {
      TSW_CATALOG_STORAGE_SQLITE_PATH: dbPath,
      TSW_CATALOG_BLOBS_DIRECTORY: join(dir, 'blobs'),
      ADMIN_PW: 'a very long password',
    };
  }, 180_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('prints help and the effective config with env names', async () => {
    expect((await tsw(['--help'], env)).stdout).toContain('user add NAME');
    const printed = await tsw(['--print-config', '--server.port=9999'], env);
    expect(printed.stdout).toContain('server.port = 9999    # TSW_CATALOG_SERVER_PORT');
    expect(printed.stdout).toContain(`storage.sqlitePath = "${dbPath}"`);
  });

  it('adds a user, creates a token and verifies the audit chain; an edited record fails the check', async () => {
    const added = await tsw(
      ['user', 'add', 'root', '--role', 'admin', '--password-env', 'ADMIN_PW', '--totp'],
      env,
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/created user root/);
    expect(added.stdout).toMatch(/TOTP secret: [A-Z2-7]+/);
    const token = await tsw(['token', 'create', 'root', '--scope', 'read', '--ttl-seconds', '600'], env);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toMatch(/^tsw_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const ok = await tsw(['audit', 'verify'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/audit chain intact: 2 records/);
    const db = new Database(dbPath);
    db.prepare("UPDATE audit_log SET detail = '{}' WHERE seq = 1").run();
    db.close();
    const broken = await tsw(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim()).toBe('tsw-catalog: AUDIT_CHAIN_BROKEN at record 1: record hash mismatch');
  });

  it('serves until SIGTERM, logging where it listens', async () => {
    const child = spawn('node', [cli, 'serve', '--server.port=0'], { env: { ...process.env, ...env } });
    try {
      const url = await new Promise<string>((resolvePromise, reject) => {
        let buffered = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buffered);
          if (match?.[1]) resolvePromise(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('fails with one clear line on bad input', async () => {
    const unknown = await tsw(['frobnicate'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    const badEnv = await tsw(['print-config'], { ...env, TSW_CATALOG_SERVER_PORT: 'eighty' });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr.trim()).toBe(
      'tsw-catalog: CONFIG_INVALID: TSW_CATALOG_SERVER_PORT: expected a number, got "eighty"',
    );
    const noUser = await tsw(['token', 'create', 'nobody'], env);
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toMatch(/no user named nobody/);
    const badRole = await tsw(['user', 'add', 'x', '--role', 'wizard'], env);
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toMatch(/ROLES_INVALID: unknown role "wizard"/);
  });
});
