// Key store in HashiCorp Vault's KV secrets engine, version 2, over its HTTP API:
// GET/POST /v1/<mount>/data/<prefix>/<fqrn>, token in X-Vault-Token. Writes use
// check-and-set 0 so keys are created once and never overwritten.

import type { RepositoryKeys } from '../../repo/keys.js';
import { requireFqrn } from '../../repo/layout.js';
import { errorMessage, FlowError } from '../errors.js';
import { asKeys, type KeyStore } from './keystore.js';

export interface VaultOptions {
  readonly address: string;
  readonly mount: string;
  readonly pathPrefix: string;
  readonly token: string;
  readonly namespace: string;
  readonly timeoutSeconds: number;
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

export class VaultKeyStore implements KeyStore {
  readonly description: string;

  constructor(private readonly options: VaultOptions) {
    if (!options.token)
      throw new FlowError('KEYSTORE_FAILED', 'no Vault token (keyStore.vault.tokenFile or tokenEnv)');
    this.description = `Vault KV v2 at ${options.address}/v1/${options.mount}`;
  }

  private url(fqrn: string): string {
    const segments = [this.options.mount, 'data', ...this.options.pathPrefix.split('/'), requireFqrn(fqrn)];
    const path = segments
      .filter((s) => s !== '')
      .map(encodeURIComponent)
      .join('/');
    return `${this.options.address.replace(/\/+$/, '')}/v1/${path}`;
  }

  private async call(
    method: 'GET' | 'POST',
    fqrn: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = { 'x-vault-token': this.options.token };
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url(fqrn), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutSeconds * 1000),
        redirect: 'error',
      });
    } catch (error) {
      throw new FlowError('KEYSTORE_FAILED', `Vault ${method} ${fqrn}: ${errorMessage(error)}`);
    }
    const text = await response.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new FlowError('KEYSTORE_FAILED', `Vault answer too large`);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = {};
    }
    return { status: response.status, json };
  }

  async put(fqrn: string, keys: RepositoryKeys): Promise<void> {
    const { status, json } = await this.call('POST', fqrn, { options: { cas: 0 }, data: keys });
    if (status === 200 || status === 204) return;
    const errors = (json as { errors?: unknown[] }).errors?.join('; ') ?? '';
    if (status === 400 && /check-and-set/.test(errors))
      throw new FlowError('KEYSTORE_FAILED', `keys of ${fqrn} are already stored in Vault`);
    throw new FlowError(
      'KEYSTORE_FAILED',
      `Vault refused to store keys of ${fqrn}: HTTP ${status} ${errors}`,
    );
  }

  async get(fqrn: string): Promise<RepositoryKeys | undefined> {
    const { status, json } = await this.call('GET', fqrn);
    if (status === 404) return undefined;
    if (status !== 200) throw new FlowError('KEYSTORE_FAILED', `Vault read of ${fqrn}: HTTP ${status}`);
    const keys = asKeys((json as { data?: { data?: unknown } }).data?.data);
    if (!keys) throw new FlowError('KEYSTORE_FAILED', `Vault secret of ${fqrn} is not a key set`);
    return keys;
  }
}
