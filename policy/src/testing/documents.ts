// Valid example documents for tests: a catalog with entries and the approval that pins it.

import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../documents.js';
import { entryDigest } from '../evaluate.js';
import type { Approval, Catalog, CatalogEntry, EndorserRule } from '../schema.js';

const HOUR_MS = 3600_000;
const iso = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export function makeEntry(overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  const seed = randomUUID();
  return {
    id: randomUUID(),
    kind: 'vm-image',
    name: `image-${seed.slice(0, 8)}`,
    version: '1',
    artifact: {
      size: 1024,
      sha256: sha256Hex(Buffer.from(seed)),
      infoHash: sha256Hex(Buffer.from(`${seed}-ih`)).slice(0, 40),
      torrent: { sha256: sha256Hex(Buffer.from(`${seed}-t`)) },
    },
    image: { os: 'linux', arch: 'x86_64', hypervisor: 'kvm', format: 'qcow2' },
    voTags: [],
    ...overrides,
  };
}

export function makeCatalog(overrides: Partial<Catalog> = {}, now = Date.now()): Catalog {
  return {
    apiVersion: 'trustswarm/v1',
    kind: 'Catalog',
    id: randomUUID(),
    name: 'test-catalog',
    version: 1,
    issued: iso(now - HOUR_MS),
    expires: iso(now + 30 * 24 * HOUR_MS),
    endorser: { name: 'Test Endorser' },
    entries: [makeEntry()],
    ...overrides,
  };
}

/** An approval of every entry of the given catalogs (bytes as they will be served). */
export function makeApproval(
  catalogs: Array<{ catalog: Catalog; bytes: Uint8Array }>,
  trust: { threshold: number; endorsers: EndorserRule[] },
  overrides: Partial<Approval> = {},
  now = Date.now(),
): Approval {
  return {
    apiVersion: 'trustswarm/v1',
    kind: 'Approval',
    site: 'EXAMPLE-SITE',
    version: 1,
    issued: iso(now - 60_000),
    expires: iso(now + 12 * HOUR_MS),
    trust,
    catalogs: catalogs.map(({ catalog, bytes }) => ({
      id: catalog.id,
      version: catalog.version,
      sha256: sha256Hex(bytes),
      entries: catalog.entries.map((e) => ({ id: e.id, sha256: entryDigest(e) ?? '' })),
    })),
    ...overrides,
  };
}
