// Test images: built with umoci (layers from real directory changes, plus hand-made layers via
// `umoci raw add-layer`), pushed with skopeo; raw pushes through the registry API for layers no
// tool would write (escapes, devices, bad digests). Snapshots compare flat trees with umoci unpack.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { RepositoryReader } from '../../src/reader/reader.js';

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function umoci(...args: string[]): string {
  return run('umoci', args);
}

export function skopeoPush(layout: string, tag: string, dest: string, extra: string[] = []): void {
  run('skopeo', [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    ...extra,
    `oci:${layout}:${tag}`,
    `docker://${dest}`,
  ]);
}

export interface TarMember {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

export async function makeTar(members: readonly TarMember[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve) => p.on('end', () => resolve()));
  for (const m of members) {
    const type = m.type ?? 'file';
    const body =
      m.content === undefined ? undefined : Buffer.isBuffer(m.content) ? m.content : Buffer.from(m.content);
    const header = {
      name: m.name,
      type,
      mode: m.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: new Date(1_700_000_000_000),
      uid: 0,
      gid: 0,
      ...(m.linkname ? { linkname: m.linkname } : {}),
      ...(m.devmajor !== undefined ? { devmajor: m.devmajor, devminor: m.devminor ?? 0 } : {}),
      ...(type === 'file' ? { size: body?.length ?? 0 } : {}),
    };
    if (type === 'file') p.entry(header, body ?? Buffer.alloc(0));
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes blobs and a manifest through the registry API (monolithic uploads). */
export async function pushRaw(
  registryUrl: string,
  repo: string,
  tag: string,
  layers: { blob: Buffer; diffId: string; mediaType?: string }[],
  options: {
    config?: Record<string, unknown>;
    manifestOverride?: (m: Record<string, unknown>) => void;
    authorization?: string;
  } = {},
): Promise<{ digest: string; manifest: Buffer }> {
  const auth: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
  const upload = async (blob: Buffer) => {
    const digest = sha256(blob);
    const start = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
    const location = start.headers.get('location') ?? '';
    const url = new URL(location, registryUrl);
    url.searchParams.set('digest', digest);
    const put = await fetch(url, {
      method: 'PUT',
      body: blob,
      headers: { 'content-type': 'application/octet-stream', ...auth },
    });
    if (put.status !== 201) throw new Error(`blob upload failed: ${put.status} ${await put.text()}`);
    return digest;
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      ...options.config,
    }),
  );
  const configDigest = await upload(config);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers: [] as unknown[],
  };
  for (const l of layers)
    (manifest.layers as unknown[]).push({
      mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: await upload(l.blob),
      size: l.blob.length,
    });
  options.manifestOverride?.(manifest);
  const bytes = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', ...auth },
  });
  if (res.status !== 201) throw new Error(`manifest push failed: ${res.status} ${await res.text()}`);
  return { digest: sha256(bytes), manifest: bytes };
}

/** A gzip layer from tar members, with its DiffID. */
export async function gzipLayer(members: readonly TarMember[]) {
  const tar = await makeTar(members);
  return { blob: gzipSync(tar), diffId: sha256(tar), tar };
}

export interface EntrySnapshot {
  type: 'dir' | 'file' | 'symlink' | 'fifo' | 'other';
  mode: number;
  uid: number;
  gid: number;
  target?: string;
  sha256?: string;
  size?: number;
}

/** Every entry beneath a local directory (umoci unpack's rootfs), by relative path. */
export function snapshotDir(root: string, ignoreTop: readonly string[] = []): Map<string, EntrySnapshot> {
  const out = new Map<string, EntrySnapshot>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (rel === '' && ignoreTop.includes(name)) continue;
      const full = join(dir, name);
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(full);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        out.set(path, { type: 'dir', ...base });
        walk(full, path);
      } else if (st.isSymbolicLink())
        out.set(path, { type: 'symlink', ...base, mode: 0, target: readlinkSync(full) });
      else if (st.isFile()) {
        const bytes = readFileSync(full);
        out.set(path, { type: 'file', ...base, size: bytes.length, sha256: sha256(bytes) });
      } else if (st.isFIFO()) out.set(path, { type: 'fifo', ...base });
      else out.set(path, { type: 'other', ...base });
    }
  };
  walk(root, '');
  return out;
}

/** The same view of a tree in a published CVMFS revision, read back through the reader. */
export async function snapshotCvmfs(
  reader: RepositoryReader,
  root: string,
  ignoreTop: readonly string[] = ['.singularity.d', '.cvmfscatalog'],
): Promise<Map<string, EntrySnapshot>> {
  const out = new Map<string, EntrySnapshot>();
  const walk = async (dir: string, rel: string) => {
    const entries = (await reader.list(dir)).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const d of entries) {
      if (rel === '' && ignoreTop.includes(d.name)) continue;
      const path = rel === '' ? d.name : `${rel}/${d.name}`;
      const base = { mode: d.mode & 0o7777, uid: d.uid, gid: d.gid };
      if (d.kind === 'dir') {
        out.set(path, { type: 'dir', ...base });
        await walk(`${dir}/${d.name}`, path);
      } else if (d.kind === 'symlink')
        out.set(path, { type: 'symlink', ...base, mode: 0, target: d.symlink ?? '' });
      else if (d.kind === 'file') {
        const bytes = await reader.readFile(`${dir}/${d.name}`);
        out.set(path, { type: 'file', ...base, size: bytes.length, sha256: sha256(bytes) });
      } else out.set(path, { type: (d.mode & 0o170000) === 0o010000 ? 'fifo' : 'other', ...base });
    }
  };
  await walk(root, '');
  return out;
}

/** Differences between two snapshots, as readable lines (empty when equal). */
export function diffSnapshots(
  expected: Map<string, EntrySnapshot>,
  actual: Map<string, EntrySnapshot>,
): string[] {
  const lines: string[] = [];
  for (const [path, e] of expected) {
    const a = actual.get(path);
    if (!a) lines.push(`missing: ${path}`);
    else if (JSON.stringify(a) !== JSON.stringify(e))
      lines.push(`differs: ${path} expected ${JSON.stringify(e)} got ${JSON.stringify(a)}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) lines.push(`extra: ${path}`);
  return lines;
}
