// Builds the configured key store; secrets (passphrase, token) come from a file or the environment.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyStoreConfig } from '../config.js';
import { errorMessage, FlowError } from '../errors.js';
import { FileKeyStore } from './file-store.js';
import type { KeyStore } from './keystore.js';
import { VaultKeyStore } from './vault-store.js';

function secret(file: string, envName: string, env: NodeJS.ProcessEnv): string {
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new FlowError('KEYSTORE_FAILED', `cannot read ${file}: ${errorMessage(error)}`);
    }
  }
  return env[envName] ?? '';
}

export function openKeyStore(config: KeyStoreConfig, stateDir: string, env = process.env): KeyStore {
  if (config.backend === 'vault') {
    const v = config.vault;
    return new VaultKeyStore({ ...v, token: secret(v.tokenFile, v.tokenEnv, env) });
  }
  return new FileKeyStore(
    config.directory || join(stateDir, 'keystore'),
    secret(config.passphraseFile, config.passphraseEnv, env),
  );
}

export type { KeyStore } from './keystore.js';
