// Walks a whole revision through the reader: every catalog (hash, structure, statistics)
// and every file object (hash and size), without keeping file contents in memory.
import { Writable } from 'node:stream';
import type { Dirent } from '../catalog/dirent.js';
import { addCounters, COUNTER_NAMES, type Counters, zeroCounters } from '../catalog/schema.js';
import { BridgeError } from '../errors.js';
import type { RepositoryReader } from './reader.js';

export interface VerifyReport {
  readonly revision: number;
  readonly catalogs: number;
  readonly entries: number;
  readonly files: number;
  readonly fileBytes: number;
  readonly objectsChecked: number;
}

const discard = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

function sameCounters(a: Counters, b: Counters): boolean {
  return COUNTER_NAMES.every((n) => a[n] === b[n]);
}

export async function verifyRevision(reader: RepositoryReader): Promise<VerifyReport> {
  const seenObjects = new Set<string>();
  let catalogs = 0;
  let entries = 0;
  let files = 0;
  let fileBytes = 0;

  // Returns the catalog's total counters (self + subtree) after checking them.
  const verifyCatalog = async (mountpoint: string): Promise<Counters> => {
    catalogs++;
    const stats = await reader.catalogCounters(mountpoint);
    const nested = await reader.nestedOf(mountpoint);
    let childTotals = zeroCounters();
    for (const child of nested) childTotals = addCounters(childTotals, await verifyCatalog(child));
    const selfOk = sameCounters({ ...stats.computed }, stats.self);
    if (!selfOk || !sameCounters(childTotals, stats.subtree)) {
      throw new BridgeError(
        'CATALOG_INVALID',
        `statistics of catalog ${mountpoint || '/'} do not match its content`,
      );
    }
    return addCounters(stats.self, stats.subtree);
  };

  const walk = async (dirPath: string): Promise<void> => {
    for (const d of await reader.list(dirPath)) {
      entries++;
      const path = `${dirPath}/${d.name}`;
      if (d.kind === 'dir') await walk(path);
      else if (d.kind === 'file') await checkFile(d);
    }
  };
  const checkFile = async (d: Dirent): Promise<void> => {
    files++;
    fileBytes += d.sizeBytes;
    if (!d.hash || seenObjects.has(d.hash)) return;
    await reader.streamObject(d, discard());
    seenObjects.add(d.hash);
  };

  await verifyCatalog('');
  await walk('');
  return { revision: reader.revision, catalogs, entries, files, fileBytes, objectsChecked: seenObjects.size };
}
