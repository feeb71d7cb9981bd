// `tsw-bridge run` refuses bad configurations with one line naming the problem and a non-zero
// exit, before touching anything.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { CLI } from './support/bridge.js';

async function runWith(yaml: string, env: Record<string, string> = {}) {
  const dir = tempDir('tsw-run-cli-');
  const file = join(dir, 'bridge.yaml');
  writeFileSync(file, `storageDir: ${dir}/srv\nstateDir: ${dir}/state\n${yaml}`);
  const r = await execa('node', [CLI, 'run', '--config', file], { reject: false, env, timeout: 30_000 });
  return { code: r.exitCode, stderr: String(r.stderr).trim() };
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
