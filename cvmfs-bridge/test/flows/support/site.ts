// A whole signed site for the approved-content test, without a catalog server: a static
// layout (catalog + endorser signature, site-signed approval, .torrent files) served over
// HTTP, a tracker, and an origin peer seeding the artifacts with @trustswarm/fetch's engine.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { defaultTransferConfig, readTorrentInfo, sha256Hex, TransferEngine } from '@trustswarm/fetch';
import {
  type Approval,
  type Catalog,
  type CatalogEntry,
  serializeDocument,
  signDetached,
} from '@trustswarm/policy';
import type { TestIdentity, TestPki } from '@trustswarm/policy/testing';
import { Server as TrackerServer } from 'bittorrent-tracker';
import createTorrent from 'create-torrent';

const iso = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export interface SnapshotArtifact {
  path: string;
  dir: string;
  sha256: string;
  sizeBytes: number;
  torrentFile: Uint8Array;
  infoHash: string;
}

export interface Site {
  baseUrl: string;
  announceUrl: string;
  seeder: TransferEngine;
  addArtifact(dir: string, fileName: string, bytes: Buffer): Promise<SnapshotArtifact>;
  publish(opts: {
    version: number;
    entries: CatalogEntry[];
    approve: string[];
    signer?: TestIdentity;
  }): Promise<void>;
  close(): Promise<void>;
}

async function put(root: string, path: string, bytes: Uint8Array | string): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

export function snapshotEntry(
  id: string,
  artifact: SnapshotArtifact,
  cvmfs: { repository: string; path: string },
): CatalogEntry {
  return {
    id,
    kind: 'repo-snapshot',
    name: `snapshot-${id.slice(0, 8)}`,
    version: '1',
    artifact: {
      size: artifact.sizeBytes,
      sha256: artifact.sha256,
      infoHash: artifact.infoHash,
      torrent: { sha256: sha256Hex(artifact.torrentFile) },
    },
    cvmfs,
    voTags: [],
  } as CatalogEntry;
}

export async function startSite(root: string, pki: TestPki, site: string, catalogId: string): Promise<Site> {
  const http: HttpServer = createServer(async (req, res) => {
    const file = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(root)) return res.writeHead(403).end();
    try {
      const body = await readFile(file);
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
      if (req.headers['if-none-match'] === etag) return res.writeHead(304, { etag }).end();
      res.writeHead(200, { etag, 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const baseUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}/`;
  const tracker = new TrackerServer({ http: true, udp: false, ws: false, stats: false, interval: 1000 });
  await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', () => r()));
  const address = tracker.http?.address();
  if (!address || typeof address === 'string') throw new Error('tracker did not bind');
  const announceUrl = `http://127.0.0.1:${address.port}/announce`;
  const seeder = await TransferEngine.start({
    ...defaultTransferConfig,
    torrentPort: 0,
    listenAddress: '127.0.0.1',
    dht: { enabled: false, bootstrap: [], port: 0 },
    webSeed: { enabled: false, delaySeconds: 0, noPeerGraceSeconds: 0 },
  });
  return {
    baseUrl,
    announceUrl,
    seeder,
    async addArtifact(dir, fileName, bytes) {
      await mkdir(dir, { recursive: true });
      const path = join(dir, fileName);
      await writeFile(path, bytes);
      const torrentFile = await new Promise<Uint8Array>((resolve, reject) =>
        createTorrent(
          path,
          {
            announceList: [[announceUrl]],
            pieceLength: 16 * 1024,
            urlList: [],
            createdBy: 'tsw-test',
            creationDate: 0,
          },
          (err, t) => (err ? reject(err) : resolve(t)),
        ),
      );
      const info = await readTorrentInfo(torrentFile);
      await put(root, `torrents/${info.infoHash}.torrent`, torrentFile);
      await seeder.seed(torrentFile, dir);
      return {
        path,
        dir,
        sha256: sha256Hex(bytes),
        sizeBytes: bytes.length,
        torrentFile,
        infoHash: info.infoHash,
      };
    },
    async publish({ version, entries, approve, signer }) {
      const now = Date.now();
      const catalog: Catalog = {
        apiVersion: 'trustswarm/v1',
        kind: 'Catalog',
        id: catalogId,
        name: 'snapshots',
        version,
        issued: iso(now - 3_600_000),
        expires: iso(now + 86_400_000),
        endorser: { name: 'Test Endorser' },
        entries,
      };
      const bytes = serializeDocument(catalog);
      const base = `catalogs/${catalogId}/${version}`;
      await put(root, `${base}/catalog.yaml`, bytes);
      const alice = pki.endorsers.alice;
      await put(root, `${base}/signatures/${alice.certificate.sha256}.p7s`, signDetached(bytes, alice));
      await put(root, `${base}/signatures/index.json`, JSON.stringify([alice.certificate.sha256]));
      const approval: Approval = {
        apiVersion: 'trustswarm/v1',
        kind: 'Approval',
        site,
        version,
        issued: iso(now - 60_000),
        expires: iso(now + 3_600_000),
        trust: { threshold: 1, endorsers: [alice.rule] },
        catalogs: [
          {
            id: catalogId,
            version,
            sha256: sha256Hex(bytes),
            entries: entries
              .filter((e) => approve.includes(e.id))
              .map((e) => ({
                id: e.id,
                // The hash an approval pins: the artifact's, or a container image's manifest digest.
                sha256: e.artifact?.sha256 ?? e.oci?.digest.replace(/^sha256:/, '') ?? '',
              })),
          },
        ],
      };
      const doc = serializeDocument(approval);
      await put(root, `sites/${site}/approval.yaml.p7s`, signDetached(doc, signer ?? pki.site));
      await put(root, `sites/${site}/approval.yaml`, doc);
    },
    async close() {
      await seeder.destroy();
      await new Promise<void>((r) => tracker.close(() => r()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
