// TSW_BRIDGE_<KEY PATH> through policy's configFromEnv: every form that sets something, the
// names the bridge reads for other purposes (config file, the container converter's own
// variables, secrets by configured name), and a misspelt name refused instead of ignored.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configEnvNames, loadConfig } from '../src/config.js';
import { ContainerConfigSchema, loadContainerConfig } from '../src/containers/config.js';
import { tempDir } from './helpers.js';

function yamlFile(text: string): string {
  const file = join(tempDir('tsw-config-env-'), 'bridge.yaml');
  writeFileSync(file, text);
  return file;
}

const refusal = (name: string) => ({
  code: 'CONFIG_INVALID',
  message: `${name}: no such setting (names are TSW_BRIDGE_<KEY PATH>)`,
});

describe('TSW_BRIDGE_* variables', () => {
  it('sets top-level keys, section keys, keys of sub-sections and lists of words', () => {
    const config = loadConfig({
      env: {
        TSW_BRIDGE_STATE_DIR: '/state/env',
        TSW_BRIDGE_WORKERS: '3',
        TSW_BRIDGE_S3_CA_FILE: '/etc/site-ca.pem',
        TSW_BRIDGE_S3_FORCE_PATH_STYLE: 'false',
        TSW_BRIDGE_KEY_STORE_VAULT_ADDRESS: 'https://vault.example.org:8200',
        TSW_BRIDGE_APPROVED_POLL_INTERVAL_SECONDS: '90',
        TSW_BRIDGE_APPROVED_REPOSITORIES: 'sw.example.org, data.example.org',
        TSW_BRIDGE_PUBLIC_URL: '',
      },
    });
    expect(config).toMatchObject({ stateDir: '/state/env', workers: 3 });
    expect(config.s3).toMatchObject({ caFile: '/etc/site-ca.pem', forcePathStyle: false });
    expect(config.keyStore.vault.address).toBe('https://vault.example.org:8200');
    expect(config.approved.poll.intervalSeconds).toBe(90);
    expect(config.approved.repositories).toEqual(['sw.example.org', 'data.example.org']);
    expect(config.publicUrl).toBe('http://localhost:8000/cvmfs/@fqrn@'); // empty = unset
  });

  it('layers file < environment < flags, a variable replacing only its key of a section', () => {
    const file = yamlFile(
      'storageDir: /srv/file\nstateDir: /state/file\ns3:\n  endpoint: https://s3.example.org\n  caFile: /etc/file.pem\n',
    );
    const env = {
      TSW_BRIDGE_STORAGE_DIR: '/srv/env',
      TSW_BRIDGE_STATE_DIR: '/state/env',
      TSW_BRIDGE_S3_CA_FILE: '/etc/env.pem',
    };
    const config = loadConfig({ file, env, flags: { storageDir: '/srv/flag', stateDir: undefined } });
    expect(config).toMatchObject({ storageDir: '/srv/flag', stateDir: '/state/env' });
    expect(config.s3).toMatchObject({ endpoint: 'https://s3.example.org', caFile: '/etc/env.pem' });
    expect(loadConfig({ file, env: {} }).s3.caFile).toBe('/etc/file.pem');
    expect(loadConfig({ env: { TSW_BRIDGE_CONFIG: file } }).stateDir).toBe('/state/file');
  });

  it('refuses a misspelt name under TSW_BRIDGE_, naming it', () => {
    for (const name of [
      'TSW_BRIDGE_STORAGE_DIRECTORY',
      'TSW_BRIDGE_S3_CA_FLIE',
      'TSW_BRIDGE_S3', // a section is set key by key
      'TSW_BRIDGE_S3_BUCKETS', // a list of mappings: the file only
      'TSW_BRIDGE_CONTAINERS_PLATFORM',
      'TSW_BRIDGE_KEY_STORE_PASSPHRASE', // the default secret variable is TSW_BRIDGE_KEYSTORE_PASSPHRASE
    ])
      expect(() => loadConfig({ env: { [name]: 'x' } }), name).toThrow(
        expect.objectContaining(refusal(name)),
      );
    expect(loadConfig({ env: { TSW_BRIDGEX: 'x', TSW_AGENT_SITE: 'S', OTHER: 'y' } }).backend).toBe('native');
  });

  it('leaves the container converter its TSW_BRIDGE_CONTAINERS_<KEY> (JSON for lists and maps)', () => {
    const env = {
      TSW_BRIDGE_CONTAINERS_PLATFORMS: '["linux/amd64","linux/arm64"]',
      TSW_BRIDGE_CONTAINERS_REGISTRY_CREDENTIALS: '{"reg.example.org":{"username":"u","password":"p"}}',
      TSW_BRIDGE_CONTAINERS_MAX_LAYERS: '64',
      TSW_BRIDGE_CONTAINERS_CONFIG: '',
    };
    expect(loadConfig({ env }).backend).toBe('native');
    expect(loadContainerConfig({ env })).toMatchObject({
      platforms: ['linux/amd64', 'linux/arm64'],
      registryCredentials: { 'reg.example.org': { username: 'u' } },
      maxLayers: 64,
    });
    // the names reserved here are the names the converter reads: a bad value of each shows there
    const defaults = loadContainerConfig({ env: {} });
    for (const key of Object.keys(ContainerConfigSchema.shape) as (keyof typeof defaults)[]) {
      const name = `TSW_BRIDGE_CONTAINERS_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
      const bad = { [name]: '{"bad":1}' };
      expect(loadConfig({ env: bad }).backend, name).toBe('native');
      let read: boolean;
      try {
        read = !isDeepStrictEqual(loadContainerConfig({ env: bad })[key], defaults[key]);
      } catch (error) {
        read = new RegExp(`^containers config ${key}[.:]`).test((error as Error).message);
      }
      expect(read, name).toBe(true);
    }
  });

  it('reserves the variables secrets are read from, by their configured names', () => {
    expect(loadConfig({ env: { TSW_BRIDGE_KEYSTORE_PASSPHRASE: 'p' } }).keyStore.passphraseEnv).toBe(
      'TSW_BRIDGE_KEYSTORE_PASSPHRASE',
    );
    expect(() => loadConfig({ env: { TSW_BRIDGE_SITE_PASS: 'p' } })).toThrow(
      expect.objectContaining(refusal('TSW_BRIDGE_SITE_PASS')),
    );
    const file = yamlFile('keyStore:\n  passphraseEnv: TSW_BRIDGE_SITE_PASS\n');
    expect(loadConfig({ file, env: { TSW_BRIDGE_SITE_PASS: 'p' } }).keyStore.passphraseEnv).toBe(
      'TSW_BRIDGE_SITE_PASS',
    );
    const byEnv = { TSW_BRIDGE_KEY_STORE_PASSPHRASE_ENV: 'TSW_BRIDGE_SITE_PASS', TSW_BRIDGE_SITE_PASS: 'p' };
    expect(loadConfig({ env: byEnv }).keyStore.passphraseEnv).toBe('TSW_BRIDGE_SITE_PASS');
    const vault = {
      TSW_BRIDGE_KEY_STORE_VAULT_TOKEN_ENV: 'TSW_BRIDGE_VAULT_TOKEN',
      TSW_BRIDGE_VAULT_TOKEN: 't',
    };
    expect(loadConfig({ env: vault }).keyStore.vault.tokenEnv).toBe('TSW_BRIDGE_VAULT_TOKEN');
  });

  it('names the variable behind a bad value', () => {
    const cases = [
      [
        { TSW_BRIDGE_S3_DOWNLOAD_CONCURRENCY: 'many' },
        /^TSW_BRIDGE_S3_DOWNLOAD_CONCURRENCY: expected a number/,
      ],
      [{ TSW_BRIDGE_S3_ENABLED: 'maybe' }, /^TSW_BRIDGE_S3_ENABLED: expected true or false, got "maybe"$/],
      [{ TSW_BRIDGE_S3_KEY_ENCODING: 'base64' }, /^config s3\.keyEncoding \(TSW_BRIDGE_S3_KEY_ENCODING\): /],
      [{ TSW_BRIDGE_COMPRESSION_LEVEL: '42' }, /^config compressionLevel \(TSW_BRIDGE_COMPRESSION_LEVEL\): /],
    ] as const;
    for (const [env, message] of cases)
      expect(() => loadConfig({ env })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(message) }),
      );
    // a flag's bad value is not blamed on the variable it overrode
    expect(() => loadConfig({ env: { TSW_BRIDGE_BACKEND: 'native' }, flags: { backend: 'nfs' } })).toThrow(
      /^config backend: /,
    );
  });

  it('lists every settable name for --print-config', () => {
    const names = configEnvNames();
    expect(names).toMatchObject({
      storageDir: 'TSW_BRIDGE_STORAGE_DIR',
      's3.caFile': 'TSW_BRIDGE_S3_CA_FILE',
      'keyStore.passphraseFile': 'TSW_BRIDGE_KEY_STORE_PASSPHRASE_FILE',
      'approved.transfer.dht.port': 'TSW_BRIDGE_APPROVED_TRANSFER_DHT_PORT',
    });
    expect(new Set(Object.values(names)).size).toBe(Object.keys(names).length);
  });
});

describe('containers config booleans (podmanStore)', () => {
  const podmanStore = (options: Parameters<typeof loadContainerConfig>[0]) =>
    loadContainerConfig(options).podmanStore;

  it("reads the policy's words for true and false from the file and the environment", () => {
    for (const [word, value] of [
      ['false', false],
      ['0', false],
      ['no', false],
      ['true', true],
      ['1', true],
      ['yes', true],
    ] as const) {
      expect(podmanStore({ env: { TSW_BRIDGE_CONTAINERS_PODMAN_STORE: word } }), word).toBe(value);
      expect(podmanStore({ env: {}, file: yamlFile(`podmanStore: "${word}"\n`) }), word).toBe(value);
    }
    expect(podmanStore({ env: {}, file: yamlFile('podmanStore: false\n') })).toBe(false);
    expect(podmanStore({ env: {}, file: yamlFile('podmanStore: true\n') })).toBe(true);
    expect(podmanStore({ env: {}, flags: { podmanStore: true } })).toBe(true);
    expect(podmanStore({ env: {} })).toBe(false);
  });

  it('refuses anything else with one line naming the key', () => {
    const cases = [
      { env: { TSW_BRIDGE_CONTAINERS_PODMAN_STORE: 'maybe' } },
      { env: { TSW_BRIDGE_CONTAINERS_PODMAN_STORE: 'False' } },
      { env: { TSW_BRIDGE_CONTAINERS_PODMAN_STORE: 'off' } },
      { env: {}, file: yamlFile('podmanStore: "maybe"\n') },
      { env: {}, file: yamlFile('podmanStore: 1\n') },
      { env: {}, file: yamlFile('podmanStore: []\n') },
    ];
    for (const options of cases)
      expect(() => loadContainerConfig(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringMatching(
            /^containers config podmanStore: expected true or false, got [^\n]+$/,
          ),
        }),
      );
  });
});
