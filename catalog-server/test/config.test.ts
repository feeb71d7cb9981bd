import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, describeConfig, envName, loadConfig } from '../src/config.js';

describe('config', () => {
  it('has a default for every key', () => {
    const config = loadConfig();
    expect(config.server.port).toBe(8080);
    expect(config.storage.backend).toBe('sqlite');
    expect(describeConfig(config).every((k) => k.value !== undefined)).toBe(true);
  });

  it('layers YAML, then TSW_CATALOG_* env, then flags', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsw-cfg-'));
    const file = join(dir, 'c.yaml');
    await writeFile(file, 'server:\n  port: 9000\n  host: 0.0.0.0\norigin:\n  maxConcurrentPerClient: 2\n');
    const config = loadConfig({
      file,
      env: { TSW_CATALOG_SERVER_PORT: '9100', TSW_CATALOG_TRACKER_ENABLED: 'false' },
      flags: { 'origin.maxConcurrentPerClient': '7' },
    });
    expect(config.server.port).toBe(9100);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.tracker.enabled).toBe(false);
    expect(config.origin.maxConcurrentPerClient).toBe(7);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it('loads the example configuration shipped in the package', () => {
    const config = loadConfig({ file: join(import.meta.dirname, '../catalog.example.yaml') });
    expect(config.storage.backend).toBe('postgres');
    expect(config.trust.caPath).toBe('/etc/grid-security/certificates');
    expect(config.tracker.enabled).toBe(true);
  });

  it("ignores the other programs' variables", () => {
    const config = loadConfig({ env: { TSW_AGENT_TRANSFER_UPLOAD_SLOTS: '3', TSW_SERVER_PORT: '1' } });
    expect(config.server.port).toBe(defaultConfig.server.port);
  });

  it('names env variables from the key path', () => {
    expect(envName(['server', 'bodyLimitBytes'])).toBe('TSW_CATALOG_SERVER_BODY_LIMIT_BYTES');
  });

  it('rejects unknown keys, wrong types and unknown flags with one clear message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsw-cfg-'));
    const file = join(dir, 'c.yaml');
    await writeFile(file, 'server:\n  prot: 1\n');
    expect(() => loadConfig({ file })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { TSW_CATALOG_SERVER_PORT: 'abc' } })).toThrow(
      /TSW_CATALOG_SERVER_PORT: expected a number/,
    );
    expect(() => loadConfig({ env: { TSW_CATALOG_SERVER_PROT: '1' } })).toThrow(
      /TSW_CATALOG_SERVER_PROT: no such setting/,
    );
    expect(() => loadConfig({ flags: { 'server.nope': '1' } })).toThrow(/unknown config key --server.nope/);
    expect(() => loadConfig({ file: join(dir, 'missing.yaml') })).toThrow(/cannot read config file/);
  });

  it('exposes defaults for documentation', () => {
    expect(defaultConfig.approval.lifetimeSeconds).toBeGreaterThan(defaultConfig.approval.renewBeforeSeconds);
  });
});
