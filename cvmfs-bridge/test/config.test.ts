import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { isBridgeError } from '../src/errors.js';
import { tempDir } from './helpers.js';

const dir = tempDir('tsw-cfgtest-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration', () => {
  it('has a default for every key', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      storageDir: '/srv/cvmfs',
      backend: 'native',
      maxCatalogEntries: 200_000,
      whitelistDays: 30,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('layers YAML, then TSW_BRIDGE_* environment, then flags', () => {
    const file = join(dir, 'bridge.yaml');
    writeFileSync(file, 'storageDir: /from/yaml\nstateDir: /state/yaml\ncompressionLevel: 6\n');
    const config = loadConfig({
      file,
      env: { TSW_BRIDGE_STATE_DIR: '/state/env', TSW_BRIDGE_COMPRESSION_LEVEL: '7' },
      flags: { compressionLevel: 9, backend: undefined },
    });
    expect(config).toMatchObject({ storageDir: '/from/yaml', stateDir: '/state/env', compressionLevel: 9 });
  });

  it('rejects unknown keys and bad values with CONFIG_INVALID', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'storageDirr: /typo\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    let error: unknown;
    try {
      loadConfig({ env: { TSW_BRIDGE_MAX_CATALOG_ENTRIES: '500000' } });
    } catch (e) {
      error = e;
    }
    expect(isBridgeError(error, 'CONFIG_INVALID')).toBe(true);
  });
});
