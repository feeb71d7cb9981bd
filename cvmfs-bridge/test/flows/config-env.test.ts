// TSW_BRIDGE_<SECTION>_<KEY>: a scalar key of a flow section from the environment, over the
// file's value of that key only (the rest of the file's section stays), typed as the key is.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { tempDir } from '../helpers.js';

function yamlFile(text: string): string {
  const file = join(tempDir('tsw-config-env-'), 'bridge.yaml');
  writeFileSync(file, text);
  return file;
}

describe('section keys from the environment', () => {
  it('sets s3.caFile and keeps the rest of the file section', () => {
    const file = yamlFile('s3:\n  endpoint: https://s3.example.org\n  caFile: /etc/from-file.pem\n');
    const config = loadConfig({ file, env: { TSW_BRIDGE_S3_CA_FILE: '/etc/site-ca.pem' } });
    expect(config.s3.caFile).toBe('/etc/site-ca.pem');
    expect(config.s3.endpoint).toBe('https://s3.example.org');
    expect(loadConfig({ file, env: {} }).s3.caFile).toBe('/etc/from-file.pem');
    expect(loadConfig({ env: {} }).s3.caFile).toBe('');
  });

  it('parses numbers, booleans and enums of any section', () => {
    const config = loadConfig({
      env: {
        TSW_BRIDGE_S3_ENABLED: 'true',
        TSW_BRIDGE_S3_DOWNLOAD_CONCURRENCY: '8',
        TSW_BRIDGE_S3_KEY_ENCODING: 'raw',
        TSW_BRIDGE_AMQP_URL: 'amqp://u:p@mq.example.org:5672',
        TSW_BRIDGE_KEY_STORE_PASSPHRASE_FILE: '/etc/pass',
        TSW_BRIDGE_HTTP_LISTEN: '127.0.0.1:9100',
      },
    });
    expect(config.s3).toMatchObject({ enabled: true, downloadConcurrency: 8, keyEncoding: 'raw' });
    expect(config.amqp.url).toBe('amqp://u:p@mq.example.org:5672');
    expect(config.keyStore.passphraseFile).toBe('/etc/pass');
    expect(config.http.listen).toBe('127.0.0.1:9100');
  });

  it.each([
    [
      'a number that is not one',
      { TSW_BRIDGE_S3_DOWNLOAD_CONCURRENCY: 'many' },
      /config s3\.downloadConcurrency/,
    ],
    ['a boolean that is not one', { TSW_BRIDGE_S3_ENABLED: 'yes' }, /config s3\.enabled/],
    ['an unknown enum value', { TSW_BRIDGE_S3_KEY_ENCODING: 'base64' }, /config s3\.keyEncoding/],
  ])('refuses %s with CONFIG_INVALID naming the key', (_name, env, message) => {
    expect(() => loadConfig({ env })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(message) }),
    );
  });
});
