// `tsw-bridge container …` as an operator runs it (built binary): ingest with JSON output and
// JSON-lines events, one-line errors with stable codes and a non-zero exit, remove and gc;
// a tag a wishlist owns is refused to ingest and remove by hand.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { gzipLayer, pushRaw, sha256 } from './images.js';
import { type RunningRegistry, startRegistry } from './registry.js';

const PKG = join(import.meta.dirname, '..', '..');
const CLI = join(PKG, 'dist', 'cli.js');

describe('tsw-bridge container CLI', () => {
  let base: string;
  let env: NodeJS.ProcessEnv;
  let registry: RunningRegistry;
  let digest: string;

  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    execFileSync(join(PKG, '..', 'node_modules', '.bin', 'tsc'), ['-b', PKG]);
    base = tempDir('tsw-cli-containers-');
    env = {
      ...process.env,
      TSW_BRIDGE_STORAGE_DIR: join(base, 'srv'),
      TSW_BRIDGE_STATE_DIR: join(base, 'state'),
    };
    registry = await startRegistry({ dir: join(base, 'registry') });
    const layer = await gzipLayer([{ name: 'hello', content: 'hello\n' }]);
    ({ digest } = await pushRaw(registry.url, 'cli/img', 'v1', [layer]));
    expect(cli(['repo', 'create', 'cli.containers.org']).code).toBe(0);
  });

  afterAll(async () => {
    await registry?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('ingests an image by reference and approved digest, with JSON-lines progress events', () => {
    const events = join(base, 'events.jsonl');
    const r = cli([
      '--json',
      'container',
      '--events',
      events,
      'ingest',
      'cli.containers.org',
      `${registry.host}/cli/img:v1`,
      '--digest',
      digest,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ changed: true, digest, layersIngested: 1 });
    const kinds = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).event);
    expect(kinds[0]).toBe('image.start');
    expect(kinds.at(-1)).toBe('image.end');
    const list = cli(['--json', 'container', 'list', 'cli.containers.org']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ reference: `${registry.host}/cli/img:v1`, digest, flat: result.flatPath }),
    ]);
    const ls = cli(['repo', 'ls', 'cli.containers.org', `/${registry.host}/cli`]);
    expect(ls.stdout).toMatch(/img:v1 -> \.\.\/\.\.\/\.flat\//);
  });

  it('prints one line with a stable code and exits 1 on bad input', () => {
    const cases: [string[], RegExp][] = [
      [['container', 'ingest', 'cli.containers.org', 'UPPER/Case:bad tag'], /^tsw-bridge: BAD_REFERENCE: /],
      [
        [
          'container',
          'ingest',
          'cli.containers.org',
          `${registry.host}/cli/img:v1`,
          '--digest',
          sha256('other'),
        ],
        /^tsw-bridge: NOT_FOUND: /,
      ],
      [
        ['container', 'ingest', 'cli.containers.org', `${registry.host}/cli/missing:v1`],
        /^tsw-bridge: NOT_FOUND: /,
      ],
      [['container', 'wishlist', 'apply', join(base, 'bad.yaml')], /^tsw-bridge: WISHLIST_INVALID: /],
      [['container', 'webhook', 'serve', '--port', '0'], /^tsw-bridge: CONFIG_INVALID: .*webhookToken/],
    ];
    writeFileSync(
      join(base, 'bad.yaml'),
      'version: 1\nuser: x\ncvmfs_repo: cli.containers.org\ninput: [1, 2\n',
    );
    for (const [args, pattern] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
    }
  });

  it('removes a tag, then gc reports its trees as pending within the grace period', () => {
    expect(cli(['container', 'remove', 'cli.containers.org', `${registry.host}/cli/img:v1`]).code).toBe(0);
    const gc = cli(['--json', 'container', 'gc', 'cli.containers.org', '--grace-seconds', '3600']);
    expect(gc.code).toBe(0);
    const report = JSON.parse(gc.stdout);
    expect(report.removed).toEqual([]);
    expect(report.pending.length).toBe(2); // one layer, one flat tree (a 1-layer image has no stored chain)
    const now = cli(['--json', 'container', 'gc', 'cli.containers.org', '--grace-seconds', '0', '--objects']);
    const collected = JSON.parse(now.stdout);
    expect(collected.removed).toHaveLength(2);
    expect(collected.objects.objectsDeleted).toBeGreaterThan(0);
    expect(JSON.parse(cli(['--json', 'container', 'list', 'cli.containers.org']).stdout)).toEqual([]);
    expect(cli(['repo', 'verify', 'cli.containers.org']).code).toBe(0);
  });

  it('refuses ingest and remove by hand of a tag a wishlist owns (TAG_CONFLICT) until the wishlist lets go', async () => {
    const layer = await gzipLayer([{ name: 'hello', content: 'owned\n' }]);
    await pushRaw(registry.url, 'cli/img', 'v2', [layer]);
    const reference = `${registry.host}/cli/img:v2`;
    const list = join(base, 'owned.yaml');
    const wishlist = (inputs: string[]) =>
      writeFileSync(
        list,
        `version: 1\nuser: cli-wl\ncvmfs_repo: cli.containers.org\ninput: ${JSON.stringify(inputs)}\n`,
      );
    wishlist([`http://${reference}`]);
    const applied = cli(['--json', 'container', 'wishlist', 'apply', list]);
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ converted: [reference], failed: [] });
    const revision = () => readFileSync(join(base, 'srv', 'cli.containers.org', '.cvmfspublished'));
    const before = revision();
    for (const args of [
      ['container', 'remove', 'cli.containers.org', reference],
      ['container', 'ingest', 'cli.containers.org', reference],
    ]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(
        `tsw-bridge: TAG_CONFLICT: cli.containers.org:/${reference} is owned by wishlist:cli-wl\n`,
      );
    }
    expect(revision().equals(before)).toBe(true); // nothing published
    expect(JSON.parse(cli(['--json', 'container', 'list', 'cli.containers.org']).stdout)).toEqual([
      expect.objectContaining({ reference }),
    ]);
    wishlist([]);
    expect(JSON.parse(cli(['--json', 'container', 'wishlist', 'apply', list]).stdout)).toMatchObject({
      removed: [reference],
    });
    // Unowned again: an operator may ingest and remove it by hand (it stays unowned).
    expect(cli(['container', 'ingest', 'cli.containers.org', reference]).code).toBe(0);
    expect(cli(['container', 'remove', 'cli.containers.org', reference]).code).toBe(0);
  });
});
