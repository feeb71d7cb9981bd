// `tsw-bridge run` refuses bad configurations with one line naming the problem and a non-zero
// exit, before touching anything.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { CLI } from './support/bridge.js';

async function runWith(yaml: string | ((dir: string) => string), env: Record<string, string> = {}) {
  const dir = tempDir('tsw-run-cli-');
  const file = join(dir, 'bridge.yaml');
  const text = typeof yaml === 'string' ? yaml : yaml(dir);
  writeFileSync(file, `storageDir: ${dir}/srv\nstateDir: ${dir}/state\n${text}`);
  const r = await execa('node', [CLI, 'run', '--config', file], { reject: false, env, timeout: 30_000 });
  return { code: r.exitCode, stderr: String(r.stderr).trim(), dir };
}

describe('tsw-bridge run: configuration errors', () => {
  it.each([
    ['no flow enabled', '', /^tsw-bridge: CONFIG_INVALID: no flow enabled/],
    [
      'a negative batch delay',
      's3: {enabled: true, batchDelayMs: -1}\n',
      /^tsw-bridge: CONFIG_INVALID: config s3\.batchDelayMs/,
    ],
    ['an unknown key', 's3: {enabled: true, bogus: 1}\n', /^tsw-bridge: CONFIG_INVALID: config s3/],
    ['approved without a site', 'approved: {enabled: true}\n', /^tsw-bridge: CONFIG_INVALID: approved\.site/],
    [
      'requests without a key store passphrase',
      'requests: {enabled: true}\nkeyStore: {passphraseEnv: TSW_TEST_UNSET_PASS}\n',
      /^tsw-bridge: KEYSTORE_FAILED: key store passphrase missing/,
    ],
    [
      'a bad http.listen',
      's3: {enabled: true}\nhttp: {listen: nowhere}\n',
      /^tsw-bridge: CONFIG_INVALID: http\.listen/,
    ],
  ])('refuses %s', async (_name, yaml, line) => {
    const r = await runWith(yaml);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(line);
  });
});

// A bad s3.caFile: refused at start with one line naming the file, before the state database
// (or anything else) is opened. Root reads any file, so "unreadable" is a directory here.
describe('tsw-bridge run: s3.caFile refusals', () => {
  const s3 = (dir: string, caFile: string, endpoint = 'https://127.0.0.1:1') =>
    `s3: {enabled: true, endpoint: "${endpoint}", caFile: "${caFile.replace('DIR', dir)}"}\n`;
  const files = (dir: string) => {
    mkdirSync(join(dir, 'a-directory.pem'));
    writeFileSync(join(dir, 'not-pem.txt'), 'this is not a certificate\n');
    writeFileSync(
      join(dir, 'key-only.pem'),
      '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n',
    );
    writeFileSync(
      join(dir, 'broken.pem'),
      '-----BEGIN CERTIFICATE-----\nTUlJQm9yb2tlbiBjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n',
    );
  };
  it.each([
    ['a missing file', 'DIR/missing.pem', /s3\.caFile \S+\/missing\.pem: cannot read it \(ENOENT/],
    ['a directory', 'DIR/a-directory.pem', /s3\.caFile \S+\/a-directory\.pem: cannot read it \(EISDIR/],
    ['a file without PEM', 'DIR/not-pem.txt', /s3\.caFile \S+\/not-pem\.txt: holds no PEM certificate/],
    [
      'a PEM key, no certificate',
      'DIR/key-only.pem',
      /s3\.caFile \S+\/key-only\.pem: holds no PEM certificate/,
    ],
    [
      'a certificate block that does not parse',
      'DIR/broken.pem',
      /s3\.caFile \S+\/broken\.pem: certificate 1 of 1 does not parse/,
    ],
  ])('refuses %s', async (_name, caFile, problem) => {
    const r = await runWith((dir) => {
      files(dir);
      return s3(dir, caFile);
    });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tsw-bridge: CONFIG_INVALID: s3\.caFile /);
    expect(r.stderr).toMatch(problem);
    expect(existsSync(join(r.dir, 'state', 'flows'))).toBe(false);
  });

  it('refuses a caFile for a plain http:// endpoint (it would protect nothing)', async () => {
    const r = await runWith((dir) => {
      files(dir);
      return s3(dir, 'DIR/not-pem.txt', 'http://127.0.0.1:1');
    });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^tsw-bridge: CONFIG_INVALID: s3\.caFile \S+not-pem\.txt: set, but s3\.endpoint http:\/\/127\.0\.0\.1:1 is not https:\/\//,
    );
  });

  it('refuses a bad caFile given as TSW_BRIDGE_S3_CA_FILE the same way', async () => {
    const r = await runWith('s3: {enabled: true, endpoint: "https://127.0.0.1:1"}\n', {
      TSW_BRIDGE_S3_CA_FILE: '/nonexistent/tsw-ca.pem',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "tsw-bridge: CONFIG_INVALID: s3.caFile /nonexistent/tsw-ca.pem: cannot read it (ENOENT: no such file or directory, open '/nonexistent/tsw-ca.pem')",
    );
  });
});
