// An OCI image layout on disk for the container benchmarks: gzip layers made from real files
// (tar of a directory of this machine), hashed on both sides as they stream (digest and
// DiffID), image manifests and configs, and the index naming the tags. skopeo copies it into
// the registry the ingest reads from.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface LayerBlob {
  digest: string;
  diffId: string;
  size: number;
  uncompressed: number;
}

type Descriptor = { digest: string; size: number };

/** `tar -C / -cf - DIR` (sorted names), as a stream. */
export function tarOf(dir: string): Readable {
  return spawn('tar', ['-C', '/', '--sort=name', '-cf', '-', dir], { stdio: ['ignore', 'pipe', 'ignore'] })
    .stdout;
}

/** Counts and hashes what passes through. */
function hashing(hash: ReturnType<typeof createHash>, count: (n: number) => void): Transform {
  return new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      count(c.length);
      cb(null, c);
    },
  });
}

export class OciLayout {
  private readonly blobs: string;

  constructor(readonly dir: string) {
    this.blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(this.blobs, { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  /** A tar stream gzipped (level 1) into the blob store. */
  async layer(tar: Readable): Promise<LayerBlob> {
    const diff = createHash('sha256');
    const packed = createHash('sha256');
    let uncompressed = 0;
    let size = 0;
    const tmp = join(this.blobs, `tmp-${process.pid}`);
    await pipeline(
      tar,
      hashing(diff, (n) => (uncompressed += n)),
      createGzip({ level: 1 }),
      hashing(packed, (n) => (size += n)),
      createWriteStream(tmp),
    );
    const hex = packed.digest('hex');
    renameSync(tmp, join(this.blobs, hex));
    return { digest: `sha256:${hex}`, diffId: `sha256:${diff.digest('hex')}`, size, uncompressed };
  }

  private put(bytes: Buffer): Descriptor {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(this.blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  }

  /** The config and manifest of an image of these layers (amd64, /bin/sh). */
  image(layers: LayerBlob[]): Descriptor {
    const config = this.put(
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh'] },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        }),
      ),
    );
    return this.put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: layers.map((l) => ({
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            digest: l.digest,
            size: l.size,
          })),
        }),
      ),
    );
  }

  /** index.json naming each manifest by its tag. */
  writeIndex(tags: [string, Descriptor][]): void {
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: tags.map(([tag, m]) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...m,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        })),
      }),
    );
  }
}
