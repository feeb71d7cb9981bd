// Writes signed documents into a static distribution layout directory (DESIGN.md), the
// way the catalog server publishes them, for a static server to serve.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/layout-client.js';
import type { TestPki } from './pki.js';
import type { Artifact } from './swarm.js';

async function put(root: string, path: string, bytes: Uint8Array | string): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

export interface EntrySpec {
  id: string;
  name: string;
  artifact: Artifact;
  cluster?: string;
}

export function catalogYaml(opts: {
  id: string;
  version: number;
  entries: EntrySpec[];
  expires?: Date;
}): string {
  const now = Date.now();
  return stringify({
    apiVersion: 'trustswarm/v1',
    kind: 'Catalog',
    id: opts.id,
    name: 'test-catalog',
    version: opts.version,
    issued: new Date(now - 60_000).toISOString(),
    expires: (opts.expires ?? new Date(now + 86_400_000)).toISOString(),
    endorser: { name: 'Alice', dn: 'CN=alice' },
    entries: opts.entries.map((e) => ({
      id: e.id,
      kind: 'vm-image',
      name: e.name,
      version: '1',
      artifact: {
        size: e.artifact.info.sizeBytes,
        sha256: e.artifact.sha256,
        infoHash: e.artifact.info.infoHash,
        torrent: { sha256: sha256Hex(e.artifact.torrentFile) },
      },
      image: { os: 'linux', arch: 'x86_64', hypervisor: 'kvm', format: 'qcow2' },
      voTags: ['cms'],
      distribution: { cluster: e.cluster ?? 'c1', hosts: [] },
    })),
  });
}

export async function publishCatalog(
  root: string,
  opts: { id: string; version: number; entries: EntrySpec[] },
): Promise<string> {
  const yaml = catalogYaml(opts);
  await put(root, `catalogs/${opts.id}/${opts.version}/catalog.yaml`, yaml);
  for (const e of opts.entries) {
    await put(root, `torrents/${e.artifact.info.infoHash}.torrent`, e.artifact.torrentFile);
  }
  return yaml;
}

export async function publishApproval(
  root: string,
  pki: TestPki,
  opts: {
    site: string;
    version: number;
    catalogs: { id: string; version: number; yaml: string; entries: EntrySpec[] }[];
    expires?: Date;
    untrusted?: boolean;
  },
): Promise<{ bytes: Buffer; signature: Buffer }> {
  const now = Date.now();
  const bytes = Buffer.from(
    stringify({
      apiVersion: 'trustswarm/v1',
      kind: 'Approval',
      site: opts.site,
      version: opts.version,
      issued: new Date(now - 60_000).toISOString(),
      expires: (opts.expires ?? new Date(now + 3_600_000)).toISOString(),
      trust: { threshold: 1, endorsers: [] },
      catalogs: opts.catalogs.map((c) => ({
        id: c.id,
        version: c.version,
        sha256: sha256Hex(Buffer.from(c.yaml)),
        entries: c.entries.map((e) => ({ id: e.id, sha256: e.artifact.sha256 })),
      })),
    }),
  );
  const signature = opts.untrusted ? await pki.signUntrusted(bytes) : await pki.sign(bytes);
  await setApproval(root, opts.site, { bytes, signature });
  return { bytes, signature };
}

/** Serves exactly these approval bytes (used to replay an older, validly signed one). */
export async function setApproval(
  root: string,
  site: string,
  doc: { bytes: Buffer; signature: Buffer },
): Promise<void> {
  await put(root, `sites/${site}/approval.yaml.p7s`, doc.signature);
  await put(root, `sites/${site}/approval.yaml`, doc.bytes);
}
