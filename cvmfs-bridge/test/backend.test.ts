import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CvmfsServerPublisher } from '../src/backend/cvmfs-server.js';
import { isBridgeError } from '../src/errors.js';
import { tempDir } from './helpers.js';

const STAND_IN = join(import.meta.dirname, 'fixtures', 'cvmfs_server');
let dirs: string[] = [];
afterEach(() => {
  delete process.env.FAKE_CVMFS_STATE;
  delete process.env.FAKE_CVMFS_FAIL;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function setup(): { state: string; src: string; calls: () => string[] } {
  const base = tempDir('tsw-cvmfs-server-');
  dirs.push(base);
  const state = join(base, 'state');
  const src = join(base, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'sub', 'file.txt'), 'content');
  process.env.FAKE_CVMFS_STATE = state;
  return { state, src, calls: () => readFileSync(join(state, 'calls.log'), 'utf8').trim().split('\n') };
}

describe('cvmfs_server backend (against a stand-in keeping the real contract)', () => {
  it('opens a transaction, ingests the directory as tar, and publishes', async () => {
    const { state, src, calls } = setup();
    const publisher = new CvmfsServerPublisher({ command: STAND_IN });
    const summary = await publisher.publish({
      fqrn: 'sw.example.org',
      source: { kind: 'dir', path: src },
      path: '/apps/x',
      tag: 'v1',
    });
    expect(summary.backend).toBe('cvmfs_server');
    expect(calls()).toEqual([
      'transaction sw.example.org',
      'ingest --base_dir /apps/x --tar_file - sw.example.org',
      'publish -a v1 sw.example.org',
    ]);
    expect(readFileSync(join(state, 'ingested.list'), 'utf8')).toContain('./sub/file.txt');
    expect(existsSync(join(state, 'sw.example.org.transaction'))).toBe(false);
  });

  it.each(['ingest', 'publish'])('aborts the transaction when %s fails', async (failing) => {
    const { state, src, calls } = setup();
    process.env.FAKE_CVMFS_FAIL = failing;
    const publisher = new CvmfsServerPublisher({ command: STAND_IN });
    const error = await publisher
      .publish({ fqrn: 'sw.example.org', source: { kind: 'dir', path: src }, path: '/' })
      .catch((e: unknown) => e);
    expect(isBridgeError(error, 'BACKEND_FAILED')).toBe(true);
    expect((error as Error).message).toContain('simulated failure');
    expect(calls().at(-1)).toBe('abort -f sw.example.org');
    expect(existsSync(join(state, 'sw.example.org.transaction'))).toBe(false);
  });

  it('does not abort a transaction it could not open (another one is open)', async () => {
    const { state, src, calls } = setup();
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'sw.example.org.transaction'), '');
    const publisher = new CvmfsServerPublisher({ command: STAND_IN });
    const error = await publisher
      .publish({ fqrn: 'sw.example.org', source: { kind: 'dir', path: src }, path: '/' })
      .catch((e: unknown) => e);
    expect((error as Error).message).toContain('already in a transaction');
    expect(calls()).toEqual(['transaction sw.example.org']);
  });

  it('ingests a tar file', async () => {
    const { state, src } = setup();
    const tarFile = join(src, '..', 'in.tar');
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['-cf', tarFile, '-C', src, '.']);
    const publisher = new CvmfsServerPublisher({ command: STAND_IN });
    await publisher.publish({ fqrn: 'sw.example.org', source: { kind: 'tar', path: tarFile }, path: '/t' });
    expect(readFileSync(join(state, 'ingested.list'), 'utf8')).toContain('./sub/file.txt');
    expect(readFileSync(join(state, 'ingested.base'), 'utf8').trim()).toBe('/t');
  });
});
