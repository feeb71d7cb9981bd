// The public data/ area of a repository on local disk: content-addressed objects written via
// data/txn temp files and renamed into place, so a half-written object never has a real name.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { BridgeError } from '../errors.js';
import { type ObjectSuffix, objectPath, sha1Hex } from '../format/hash.js';

export class ObjectStore {
  readonly root: string;
  readonly dataDir: string;
  readonly txnDir: string;

  constructor(root: string) {
    this.root = root;
    this.dataDir = join(root, 'data');
    this.txnDir = join(this.dataDir, 'txn');
  }

  /** Creates data/00..ff and data/txn. */
  init(): void {
    for (let i = 0; i < 256; i++)
      mkdirSync(join(this.dataDir, i.toString(16).padStart(2, '0')), { recursive: true });
    mkdirSync(this.txnDir, { recursive: true });
  }

  /** Removes leftovers of an interrupted transaction; their objects were never referenced. */
  clearTxn(): void {
    rmSync(this.txnDir, { recursive: true, force: true });
    mkdirSync(this.txnDir, { recursive: true });
  }

  pathOf(hash: string, suffix: ObjectSuffix = ''): string {
    return join(this.root, objectPath(hash, suffix));
  }

  has(hash: string, suffix: ObjectSuffix = ''): boolean {
    return existsSync(this.pathOf(hash, suffix));
  }

  sizeOf(hash: string, suffix: ObjectSuffix = ''): number {
    return statSync(this.pathOf(hash, suffix)).size;
  }

  /** Stores zlib(bytes) and returns the hash of the compressed bytes. */
  putCompressed(bytes: Buffer, suffix: ObjectSuffix, level = 6): string {
    const stored = deflateSync(bytes, { level });
    const hash = sha1Hex(stored);
    if (!this.has(hash, suffix)) {
      const temp = join(this.txnDir, `obj.${randomBytes(8).toString('hex')}`);
      writeFileSync(temp, stored);
      renameSync(temp, this.pathOf(hash, suffix));
    }
    return hash;
  }

  /** Reads an object, checks its name against its bytes, and inflates it when compressed. */
  read(hash: string, suffix: ObjectSuffix, compressed = true): Buffer {
    let stored: Buffer;
    try {
      stored = readFileSync(this.pathOf(hash, suffix));
    } catch (error) {
      throw new BridgeError('NOT_FOUND', `object ${objectPath(hash, suffix)} is missing`, { cause: error });
    }
    if (sha1Hex(stored) !== hash)
      throw new BridgeError('HASH_MISMATCH', `object ${objectPath(hash, suffix)} does not match its hash`);
    return compressed ? inflateSync(stored) : stored;
  }
}
