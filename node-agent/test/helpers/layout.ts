// Publishes signed documents into a static distribution layout directory (DESIGN.md) the
// way the catalog server does, using @trustswarm/policy to serialise and sign, plus the
// signature listing agents need: catalogs/<id>/<v>/signatures/index.json (signer sha256s).

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256Hex } from '@trustswarm/fetch';
import {
  type Approval,
  type Catalog,
  type CatalogEntry,
  serializeDocument,
  signDetached,
} from '@trustswarm/policy';
import type { TestIdentity, TestPki } from '@trustswarm/policy/testing';
import type { Artifact } from './swarm.js';

const iso = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

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
  hosts?: string[];
}

export function catalogEntry(e: EntrySpec): CatalogEntry {
  return {
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
    distribution: { cluster: e.cluster ?? 'c1', ...(e.hosts ? { hosts: e.hosts } : {}) },
  };
}

export interface PublishedCatalog {
  id: string;
  version: number;
  bytes: Buffer;
  entries: EntrySpec[];
}

/** Signs the catalog with each endorser and writes it, its signatures and the .torrent files. */
export async function publishCatalog(
  root: string,
  endorsers: TestIdentity[],
  opts: { id: string; version: number; entries: EntrySpec[] },
): Promise<PublishedCatalog> {
  const now = Date.now();
  const catalog: Catalog = {
    apiVersion: 'trustswarm/v1',
    kind: 'Catalog',
    id: opts.id,
    name: 'test-catalog',
    version: opts.version,
    issued: iso(now - 3_600_000),
    expires: iso(now + 86_400_000),
    endorser: { name: 'Test Endorser' },
    entries: opts.entries.map(catalogEntry),
  };
  const bytes = serializeDocument(catalog);
  const base = `catalogs/${opts.id}/${opts.version}`;
  await put(root, `${base}/catalog.yaml`, bytes);
  for (const endorser of endorsers) {
    await put(root, `${base}/signatures/${endorser.certificate.sha256}.p7s`, signDetached(bytes, endorser));
  }
  await put(
    root,
    `${base}/signatures/index.json`,
    JSON.stringify(endorsers.map((e) => e.certificate.sha256)),
  );
  for (const e of opts.entries) {
    await put(root, `torrents/${e.artifact.info.infoHash}.torrent`, e.artifact.torrentFile);
  }
  return { id: opts.id, version: opts.version, bytes, entries: opts.entries };
}

export function approvalDocument(
  pki: TestPki,
  opts: { site: string; version: number; catalogs: { catalog: PublishedCatalog; entries: EntrySpec[] }[] },
): Approval {
  const now = Date.now();
  return {
    apiVersion: 'trustswarm/v1',
    kind: 'Approval',
    site: opts.site,
    version: opts.version,
    issued: iso(now - 60_000),
    expires: iso(now + 3_600_000),
    trust: { threshold: 1, endorsers: [pki.endorsers.alice.rule] },
    catalogs: opts.catalogs.map(({ catalog, entries }) => ({
      id: catalog.id,
      version: catalog.version,
      sha256: sha256Hex(catalog.bytes),
      entries: entries.map((e) => ({ id: e.id, sha256: e.artifact.sha256 })),
    })),
  };
}

export async function publishApproval(
  root: string,
  pki: TestPki,
  opts: { site: string; version: number; catalogs: { catalog: PublishedCatalog; entries: EntrySpec[] }[] },
): Promise<{ bytes: Buffer; signature: Buffer }> {
  const bytes = serializeDocument(approvalDocument(pki, opts));
  const doc = { bytes, signature: signDetached(bytes, pki.site) };
  await setApproval(root, opts.site, doc);
  return doc;
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
