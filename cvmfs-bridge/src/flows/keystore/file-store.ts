// The default key store: one file per repository, AES-256-GCM with a key derived from a
// passphrase by scrypt (fresh salt and IV per file), the repository name bound in as
// additional authenticated data so a file renamed to another repository does not decrypt.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RepositoryKeys } from '../../repo/keys.js';
import { requireFqrn } from '../../repo/layout.js';
import { writeFileAtomic } from '../../store/atomic-file.js';
import { errorMessage, FlowError } from '../errors.js';
import { asKeys, type KeyStore } from './keystore.js';

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

interface Envelope {
  format: 'tsw-keystore-v1';
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  ciphertext: string;
}

export class FileKeyStore implements KeyStore {
  readonly description: string;

  constructor(
    private readonly directory: string,
    private readonly passphrase: string,
  ) {
    if (passphrase.length < 12)
      throw new FlowError('KEYSTORE_FAILED', 'key store passphrase missing or shorter than 12 characters');
    this.description = `encrypted files in ${directory}`;
  }

  private file(fqrn: string): string {
    return join(this.directory, `${requireFqrn(fqrn)}.keys.enc`);
  }

  async put(fqrn: string, keys: RepositoryKeys): Promise<void> {
    const file = this.file(fqrn);
    if (existsSync(file)) throw new FlowError('KEYSTORE_FAILED', `keys of ${fqrn} are already stored`);
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = scryptSync(this.passphrase, salt, 32, SCRYPT);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(fqrn));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(keys), 'utf8'), cipher.final()]);
    const envelope: Envelope = {
      format: 'tsw-keystore-v1',
      kdf: { name: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64') },
      cipher: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
    writeFileAtomic(file, Buffer.from(`${JSON.stringify(envelope)}\n`), 0o600);
  }

  async get(fqrn: string): Promise<RepositoryKeys | undefined> {
    const file = this.file(fqrn);
    if (!existsSync(file)) return undefined;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(readFileSync(file, 'utf8')) as Envelope;
    } catch (error) {
      throw new FlowError('KEYSTORE_FAILED', `${file}: not a key store file: ${errorMessage(error)}`);
    }
    if (
      envelope.format !== 'tsw-keystore-v1' ||
      envelope.kdf?.name !== 'scrypt' ||
      envelope.cipher !== 'aes-256-gcm'
    )
      throw new FlowError('KEYSTORE_FAILED', `${file}: unknown key store format`);
    const { N, r, p } = envelope.kdf;
    if (![N, r, p].every(Number.isInteger) || N > 1 << 20 || r > 32 || p > 16)
      throw new FlowError('KEYSTORE_FAILED', `${file}: scrypt parameters out of range`);
    let plain: string;
    try {
      const key = scryptSync(this.passphrase, Buffer.from(envelope.kdf.salt, 'base64'), 32, {
        N,
        r,
        p,
        maxmem: 256 * N * r + 1024 * 1024,
      });
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
      decipher.setAAD(Buffer.from(fqrn));
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
      plain = Buffer.concat([
        decipher.update(Buffer.from(envelope.ciphertext, 'base64')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new FlowError(
        'KEYSTORE_FAILED',
        `${file}: cannot decrypt (wrong passphrase, tampered or renamed file)`,
      );
    }
    const keys = asKeys(JSON.parse(plain));
    if (!keys) throw new FlowError('KEYSTORE_FAILED', `${file}: decrypted record is not a key set`);
    return keys;
  }
}
