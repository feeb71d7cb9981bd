import { execFileSync } from 'node:child_process';
import {
  createReadStream,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../src/errors.js';
import { verifyRevision } from '../src/reader/verify-all.js';
import { importDirectory } from '../src/writer/import-dir.js';
import { importTar } from '../src/writer/import-tar.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo, tempDir } from './helpers.js';

let t: TestRepo | undefined;
let src: string | undefined;
afterEach(() => {
  t?.cleanup();
  if (src) rmSync(src, { recursive: true, force: true });
});

function makeTree(root: string): void {
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'lib/sub'), { recursive: true });
  mkdirSync(join(root, 'empty'));
  writeFileSync(join(root, 'bin/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  writeFileSync(join(root, 'lib/libx.so'), Buffer.alloc(100_000, 'x'));
  writeFileSync(join(root, 'lib/sub/data.txt'), 'data\n');
  linkSync(join(root, 'lib/libx.so'), join(root, 'lib/libx.so.1'));
  symlinkSync('libx.so.1', join(root, 'lib/libx.link'));
  execFileSync('mkfifo', [join(root, 'lib/fifo')]);
}

async function readAll(t: TestRepo, paths: string[]): Promise<Record<string, string>> {
  const reader = await t.reader();
  try {
    await verifyRevision(reader);
    const out: Record<string, string> = {};
    for (const p of paths) out[p] = (await reader.readFile(p)).toString();
    return out;
  } finally {
    reader.close();
  }
}

describe('importing a directory tree', () => {
  it('mirrors the tree, then applies deletions and replacements, and skips unchanged files', async () => {
    t = createTestRepo();
    src = tempDir('tsw-src-');
    makeTree(src);
    const first = await withTransaction(t.repo, (tx) =>
      importDirectory(tx, src as string, '/sw').then(() => {}),
    );
    expect(first.filesStored).toBe(3);
    let reader = await t.reader();
    try {
      expect((await reader.list('/sw')).map((d) => d.name)).toEqual(['bin', 'empty', 'lib']);
      expect(await reader.lookup('/sw/bin/tool')).toMatchObject({ mode: 0o100755 });
      expect(await reader.lookup('/sw/lib/libx.link')).toMatchObject({
        kind: 'symlink',
        symlink: 'libx.so.1',
      });
      const a = await reader.lookup('/sw/lib/libx.so');
      const b = await reader.lookup('/sw/lib/libx.so.1');
      expect(a?.hardlinkGroup).not.toBe(0);
      expect(b).toMatchObject({ hardlinkGroup: a?.hardlinkGroup, linkcount: 2, hash: a?.hash });
      expect(await reader.lookup('/sw/lib/fifo')).toMatchObject({
        kind: 'special',
        mode: expect.any(Number),
      });
      expect((await reader.lookup('/sw/lib'))?.linkcount).toBe(3);
    } finally {
      reader.close();
    }

    const unchanged = await withTransaction(t.repo, (tx) =>
      importDirectory(tx, src as string, '/sw').then(() => {}),
    );
    expect(unchanged.filesStored).toBe(0);
    expect(unchanged.catalogsWritten).toBe(1);

    rmSync(join(src, 'lib/sub/data.txt'));
    writeFileSync(join(src, 'bin/tool'), '#!/bin/sh\necho tool v2\n', { mode: 0o755 });
    rmSync(join(src, 'empty'), { recursive: true });
    writeFileSync(join(src, 'empty'), 'now a file\n');
    const changed = await withTransaction(t.repo, (tx) =>
      importDirectory(tx, src as string, '/sw').then(() => {}),
    );
    expect(changed.filesStored).toBe(2);
    expect(await readAll(t, ['/sw/bin/tool', '/sw/empty'])).toEqual({
      '/sw/bin/tool': '#!/bin/sh\necho tool v2\n',
      '/sw/empty': 'now a file\n',
    });
    reader = await t.reader();
    try {
      expect(await reader.lookup('/sw/lib/sub/data.txt')).toBeUndefined();
    } finally {
      reader.close();
    }
  });
});

function tarOf(
  entries: {
    name: string;
    type?: 'file' | 'symlink' | 'link' | 'directory';
    body?: string;
    linkname?: string;
    pax?: Record<string, string>;
  }[],
): Readable {
  const p = pack();
  for (const e of entries) {
    const { body, ...header } = e;
    if (body !== undefined) p.entry(header as never, body);
    else p.entry(header as never);
  }
  p.finalize();
  return p as unknown as Readable;
}

describe('importing a tar stream', () => {
  it('ingests an archive made by GNU tar', async () => {
    t = createTestRepo();
    src = tempDir('tsw-src-');
    makeTree(join(src, 'tree'));
    const archive = join(src, 'tree.tar');
    execFileSync('tar', ['-cf', archive, '-C', join(src, 'tree'), '.']);
    await withTransaction(t.repo, (tx) => importTar(tx, createReadStream(archive), '/t').then(() => {}));
    const reader = await t.reader();
    try {
      expect((await reader.readFile('/t/bin/tool')).toString()).toBe('#!/bin/sh\necho tool\n');
      expect((await reader.readFile('/t/lib/libx.so.1')).length).toBe(100_000);
      const a = await reader.lookup('/t/lib/libx.so');
      const b = await reader.lookup('/t/lib/libx.so.1');
      expect(a?.hardlinkGroup).not.toBe(0);
      expect(b?.hardlinkGroup).toBe(a?.hardlinkGroup);
      expect(await reader.lookup('/t/lib/fifo')).toMatchObject({ kind: 'special', mode: 0o10644 });
      expect((await verifyRevision(reader)).files).toBe(4);
    } finally {
      reader.close();
    }
  });

  it('publishes user.* extended attributes of a directory tree, and a changed attribute alone', async () => {
    t = createTestRepo();
    src = tempDir('tsw-xattr-src-');
    const odd = join(src, 'dir with space é');
    mkdirSync(odd);
    writeFileSync(join(odd, 'f'), 'content\n');
    const setfattr = (path: string, name: string, value: string) =>
      execFileSync('setfattr', ['-h', '-n', name, '-v', value, path]);
    setfattr(join(odd, 'f'), 'user.origin', 'build-42');
    setfattr(odd, 'user.kind', 'directory');
    const publish = () =>
      withTransaction(t?.repo as TestRepo['repo'], (tx) =>
        importDirectory(tx, src as string, '/x').then(() => {}),
      );
    await publish();
    let reader = await t.reader();
    try {
      expect((await reader.lookup('/x/dir with space é/f'))?.xattrs?.get('user.origin')?.toString()).toBe(
        'build-42',
      );
      expect((await reader.lookup('/x/dir with space é'))?.xattrs?.get('user.kind')?.toString()).toBe(
        'directory',
      );
    } finally {
      reader.close();
    }
    // Same bytes, same mtime: only the attribute changed, and the next revision carries it.
    setfattr(join(odd, 'f'), 'user.origin', 'build-43');
    await publish();
    reader = await t.reader();
    try {
      expect((await reader.lookup('/x/dir with space é/f'))?.xattrs?.get('user.origin')?.toString()).toBe(
        'build-43',
      );
      expect((await verifyRevision(reader)).files).toBe(1);
    } finally {
      reader.close();
    }
  });

  it('keeps extended attributes from pax headers', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, (tx) =>
      importTar(tx, tarOf([{ name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.tag': 'blue' } }]), '/').then(
        () => {},
      ),
    );
    const reader = await t.reader();
    try {
      expect((await reader.lookup('/f'))?.xattrs?.get('user.tag')?.toString()).toBe('blue');
    } finally {
      reader.close();
    }
  });

  it.each([
    ['a parent-directory name', [{ name: '../evil', body: 'x' }]],
    ['a nested parent-directory name', [{ name: 'a/../../evil', body: 'x' }]],
    ['an absolute name', [{ name: '/etc/passwd', body: 'x' }]],
    [
      'a symlink escaping the target',
      [{ name: 'l', type: 'symlink' as const, linkname: '../../etc/shadow' }],
    ],
    ['an absolute symlink', [{ name: 'l', type: 'symlink' as const, linkname: '/etc/shadow' }]],
    ['a hard link outside the archive', [{ name: 'h', type: 'link' as const, linkname: '../x' }]],
    ['a hard link to a missing member', [{ name: 'h', type: 'link' as const, linkname: 'nope' }]],
  ])('refuses %s and publishes nothing', async (_what, entries) => {
    t = createTestRepo();
    const before = t.repo.manifest();
    const error = await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/sneaky', Buffer.from('would be published'));
      await importTar(tx, tarOf([{ name: 'ok', body: 'fine' }, ...entries]), '/in');
    }).catch((e: unknown) => e);
    expect(isBridgeError(error, 'BAD_PATH')).toBe(true);
    expect(t.repo.manifest()).toEqual(before);
    expect(readFileSync(t.repo.layout.manifestFile).length).toBeGreaterThan(0);
  });
});
