// The shared test image set: a base layer from real files with every entry type, a second
// layer that deletes, replaces and re-modes (umoci writes `.wh.` whiteouts), and a hand-made
// third layer with an opaque whiteout (`.wh..wh..opq`), which no tool here writes.

import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { makeTar, umoci } from './images.js';

function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0;
    b.writeUInt32LE(x, Math.min(i, bytes - 4));
  }
  return b;
}

export interface BuiltImages {
  readonly layout: string;
  /** tag "one": base + deletions layer; tag "two": one + opaque-whiteout layer. */
  readonly tags: readonly string[];
  /** Tag "three": "two" with another top layer (shares all but its top layer with "two"). */
  readonly sharedBaseTag: string;
}

export async function buildTestImages(work: string): Promise<BuiltImages> {
  const layout = join(work, 'oci');
  const bundle = join(work, 'bundle');
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:base`);
  umoci('unpack', '--image', `${layout}:base`, bundle);
  const r = join(bundle, 'rootfs');
  // Layer 1: every entry type, modes, owners, real binaries and a 3 MB file.
  for (const d of ['etc', 'usr/bin', 'usr/lib', 'opt/app/sub', 'private', 'with space', 'srv/replace-me'])
    mkdirSync(join(r, d), { recursive: true });
  writeFileSync(join(r, 'etc/hostname'), 'test-host\n');
  writeFileSync(join(r, 'etc/shadow'), 'root:*:19000::::::\n', { mode: 0o640 });
  chmodSync(join(r, 'etc/shadow'), 0o640);
  copyFileSync('/usr/bin/env', join(r, 'usr/bin/tool'));
  chmodSync(join(r, 'usr/bin/tool'), 0o755);
  linkSync(join(r, 'usr/bin/tool'), join(r, 'usr/bin/tool-hardlink'));
  copyFileSync('/usr/bin/env', join(r, 'usr/bin/suid'));
  chmodSync(join(r, 'usr/bin/suid'), 0o4755);
  symlinkSync('tool', join(r, 'usr/bin/tool-link'));
  symlinkSync('usr/lib', join(r, 'lib'));
  symlinkSync('/usr/bin', join(r, 'bin'));
  writeFileSync(join(r, 'usr/lib/libbig.so'), pattern(3 * 1024 * 1024, 7));
  writeFileSync(join(r, 'opt/app/a'), 'a\n');
  writeFileSync(join(r, 'opt/app/b'), 'b\n');
  writeFileSync(join(r, 'opt/app/sub/c'), 'c\n');
  mkdirSync(join(r, 'tmp'));
  chmodSync(join(r, 'tmp'), 0o1777);
  chmodSync(join(r, 'private'), 0o700);
  writeFileSync(join(r, 'private/key'), 'secret\n', { mode: 0o600 });
  writeFileSync(join(r, 'with space/ünïcode file.txt'), 'unicode\n');
  writeFileSync(join(r, 'empty'), '');
  writeFileSync(join(r, 'srv/replace-me/x'), 'x\n');
  writeFileSync(join(r, 'owned'), 'owned by 1000\n');
  chownSync(join(r, 'owned'), 1000, 1000);
  execFileSync('mkfifo', [join(r, 'etc/fifo')]);
  umoci('repack', '--image', `${layout}:layer1`, bundle);
  // umoci repacks on top of the image the bundle was unpacked from: unpack again for layer 2.
  rmSync(bundle, { recursive: true, force: true });
  umoci('unpack', '--image', `${layout}:layer1`, bundle);
  // Layer 2: deletions (whiteouts), a re-mode, a dir replaced by a file, a symlink by a dir.
  rmSync(join(r, 'etc/hostname'));
  rmSync(join(r, 'opt/app/sub'), { recursive: true });
  chmodSync(join(r, 'etc/shadow'), 0o600);
  writeFileSync(join(r, 'usr/lib/libbig.so'), pattern(3 * 1024 * 1024, 8));
  rmSync(join(r, 'srv/replace-me'), { recursive: true });
  writeFileSync(join(r, 'srv/replace-me'), 'now a file\n');
  rmSync(join(r, 'usr/bin/tool-link'));
  mkdirSync(join(r, 'usr/bin/tool-link'));
  writeFileSync(join(r, 'usr/bin/tool-link/inside'), 'inside\n');
  mkdirSync(join(r, 'new/dir'), { recursive: true });
  writeFileSync(join(r, 'new/dir/file'), 'new\n');
  umoci('repack', '--image', `${layout}:one`, bundle);
  umoci(
    'config',
    '--image',
    `${layout}:one`,
    '--config.env',
    'GREETING=hello world',
    '--config.env',
    "PATH=/opt/app/bin:/usr/bin:/bin's",
    '--config.entrypoint',
    '/usr/bin/tool',
    '--config.cmd',
    'GREETING',
    '--config.workingdir',
    '/opt/app',
  );
  // Layer 3, by hand: opaque /opt/app (a, b vanish, z appears), a whiteout of etc/shadow.
  const tar = await makeTar([
    { name: 'opt/app/', type: 'directory', mode: 0o750 },
    { name: 'opt/app/.wh..wh..opq', content: '' },
    { name: 'opt/app/z', content: 'z\n' },
    { name: 'etc/.wh.shadow', content: '' },
    { name: 'etc/.wh.does-not-exist', content: '' },
  ]);
  const tarFile = join(work, 'opaque.tar');
  writeFileSync(tarFile, tar);
  umoci('raw', 'add-layer', '--image', `${layout}:one`, '--tag', 'two', tarFile);
  // Tag three: the same base as two, another top layer — a directory replaced by a symlink,
  // a file by a directory, a whiteout of a hard-linked file, a new top-level directory and a
  // file that layer 2 deleted, back again.
  const other = await makeTar([
    { name: 'private', type: 'symlink', linkname: 'etc' },
    { name: 'srv/replace-me/', type: 'directory' },
    { name: 'srv/replace-me/y', content: 'y\n' },
    { name: 'usr/bin/.wh.tool', content: '' },
    { name: 'newtop/', type: 'directory', mode: 0o700 },
    { name: 'newtop/f', content: 'f\n' },
    { name: 'etc/hostname', content: 'back again\n' },
  ]);
  const otherFile = join(work, 'other.tar');
  writeFileSync(otherFile, other);
  umoci('raw', 'add-layer', '--image', `${layout}:one`, '--tag', 'three', otherFile);
  return { layout, tags: ['one', 'two'], sharedBaseTag: 'three' };
}

export function unpackReference(layout: string, tag: string, dest: string): string {
  umoci('unpack', '--image', `${layout}:${tag}`, dest);
  return join(dest, 'rootfs');
}
