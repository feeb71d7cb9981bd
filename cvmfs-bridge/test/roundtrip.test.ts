import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyRevision } from '../src/reader/verify-all.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
afterEach(() => t?.cleanup());

describe('round trip of every entry type', () => {
  it('writes files, dirs, symlinks, hard links, special files and xattrs that the reader returns', async () => {
    t = createTestRepo();
    const text = Buffer.from('hello cvmfs\n'.repeat(100));
    const random = randomBytes(4096);
    const result = await withTransaction(t.repo, async (tx) => {
      await tx.addDirectory('/sw', { mode: 0o750, mtime: 1_700_000_000, uid: 1000, gid: 100 });
      await tx.addFile('/sw/hello.txt', text, { mode: 0o640, mtime: 1_700_000_001, mtimeNs: 123 });
      await tx.addFile('/sw/random.bin', random);
      await tx.addFile('/sw/streamed.txt', Readable.from([Buffer.from('streamed content')]));
      await tx.addFile('/sw/empty', Buffer.alloc(0));
      await tx.addSymlink('/sw/link', 'hello.txt');
      await tx.addHardLink('/sw/hard', '/sw/hello.txt');
      await tx.addSpecial('/sw/null', 'char', 259, { mode: 0o666 });
      await tx.addSpecial('/sw/pipe', 'fifo');
      await tx.addFile('/deep/a/b/c.txt', Buffer.from('deep'));
      await tx.flush();
      await tx.setXattrs('/sw/hello.txt', new Map([['user.origin', Buffer.from('test')]]));
    });
    expect(result.revision).toBe(2);

    const reader = await t.reader();
    try {
      expect((await reader.list('/')).map((d) => d.name)).toEqual(['deep', 'sw']);
      const sw = await reader.lookup('/sw');
      expect(sw).toMatchObject({
        kind: 'dir',
        mode: 0o40750,
        uid: 1000,
        gid: 100,
        mtime: 1_700_000_000,
        linkcount: 2,
      });
      const hello = await reader.lookup('/sw/hello.txt');
      expect(hello).toMatchObject({
        kind: 'file',
        mode: 0o100640,
        sizeBytes: text.length,
        mtimeNs: 123,
        compressed: true,
      });
      expect(hello?.xattrs?.get('user.origin')?.toString()).toBe('test');
      expect(await reader.readFile('/sw/hello.txt')).toEqual(text);
      expect(await reader.readFile('/sw/random.bin')).toEqual(random);
      expect((await reader.lookup('/sw/random.bin'))?.compressed).toBe(false);
      expect((await reader.readFile('/sw/streamed.txt')).toString()).toBe('streamed content');
      expect(await reader.readFile('/sw/empty')).toEqual(Buffer.alloc(0));
      expect(await reader.lookup('/sw/link')).toMatchObject({
        kind: 'symlink',
        symlink: 'hello.txt',
        sizeBytes: 9,
      });
      const hard = await reader.lookup('/sw/hard');
      expect(hard?.hardlinkGroup).toBeGreaterThan(0);
      expect(hard?.hardlinkGroup).toBe(hello?.hardlinkGroup);
      expect(hard?.linkcount).toBe(2);
      expect(await reader.lookup('/sw/null')).toMatchObject({
        kind: 'special',
        mode: 0o20666,
        sizeBytes: 259,
      });
      expect(await reader.lookup('/sw/pipe')).toMatchObject({ kind: 'special', mode: 0o10644 });
      expect((await reader.readFile('/deep/a/b/c.txt')).toString()).toBe('deep');
      expect((await reader.lookup('/'))?.linkcount).toBe(4);
      const report = await verifyRevision(reader);
      expect(report).toMatchObject({ revision: 2, catalogs: 1, files: 6 });
    } finally {
      reader.close();
    }
  });
});

describe('replacements and deletions across revisions', () => {
  it('replaces entries by other types, removes subtrees, and every revision verifies', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/a/file', Buffer.from('file'));
      await tx.addSymlink('/a/link', 'file');
      await tx.addFile('/a/dir/inner', Buffer.from('inner'));
      await tx.addFile('/gone/x/y', Buffer.from('y'));
      await tx.addFile('/a/h1', Buffer.from('hard'));
      await tx.addHardLink('/a/h2', '/a/h1');
      await tx.addHardLink('/a/h3', '/a/h1');
    });
    const r3 = await withTransaction(t.repo, async (tx) => {
      await tx.addDirectory('/a/file');
      await tx.addFile('/a/file/now-a-dir', Buffer.from('child'));
      await tx.addFile('/a/link', Buffer.from('no longer a link'));
      await tx.addSymlink('/a/dir', 'file');
      await tx.remove('/gone');
      await tx.remove('/a/h3');
      await tx.addFile('/a/h2', Buffer.from('replaced, leaves the group'));
    });
    expect(r3.revision).toBe(3);
    const reader = await t.reader();
    try {
      expect(await reader.lookup('/a/file')).toMatchObject({ kind: 'dir', linkcount: 2 });
      expect((await reader.readFile('/a/file/now-a-dir')).toString()).toBe('child');
      expect((await reader.readFile('/a/link')).toString()).toBe('no longer a link');
      expect(await reader.lookup('/a/dir')).toMatchObject({ kind: 'symlink', symlink: 'file' });
      expect(await reader.lookup('/a/dir/inner')).toBeUndefined();
      expect(await reader.lookup('/gone')).toBeUndefined();
      expect(await reader.lookup('/a/h1')).toMatchObject({ hardlinkGroup: 0, linkcount: 1 });
      expect(await reader.lookup('/a/h2')).toMatchObject({ hardlinkGroup: 0, linkcount: 1 });
      expect((await reader.lookup('/'))?.linkcount).toBe(3);
      expect((await reader.lookup('/a'))?.linkcount).toBe(3);
      const report = await verifyRevision(reader);
      expect(report.files).toBe(4);
    } finally {
      reader.close();
    }
  });
});
