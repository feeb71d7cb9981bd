// Publish benchmark: a ≥ 1 GB tree of real files copied from this machine (/usr/lib, plus
// many small files from /usr/share), published natively; then re-published unchanged; then
// with 1% of the files changed. Reference, same run, same tree: `tar -cf - | gzip -1` and
// `cp -r`. Prints the figures and writes JSON (default bench-results/cvmfs-publish.json).
//
//   pnpm --filter @trustswarm/cvmfs-bridge run bench -- [--bytes N] [--small-files N] [--work DIR]
import { execSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_REPO_SETTINGS, Repository, withTransaction } from '../src/index.js';
import { LocalFetcher } from '../src/reader/fetcher.js';
import { RepositoryReader } from '../src/reader/reader.js';
import { verifyRevision } from '../src/reader/verify-all.js';
import { importDirectory } from '../src/writer/import-dir.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    bytes: { type: 'string', default: String(1.1e9) },
    'small-files': { type: 'string', default: '20000' },
    work: { type: 'string', default: '/tmp/tsw-bench' },
    out: {
      type: 'string',
      default: join(import.meta.dirname, '..', '..', 'bench-results', 'cvmfs-publish.json'),
    },
    level: { type: 'string', default: String(DEFAULT_REPO_SETTINGS.compressionLevel) },
    workers: { type: 'string', default: String(availableParallelism()) },
  },
});
const targetBytes = Number(values.bytes);
const smallFiles = Number(values['small-files']);
const work = values.work as string;
const src = join(work, 'tree');

/** Regular files under `root` in path order, stopping at the byte or count budget. */
function collect(
  root: string,
  accept: (sizeBytes: number) => boolean,
  maxBytes: number,
  maxCount: number,
): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  let total = 0;
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (total >= maxBytes || out.length >= maxCount) return;
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile() && accept(st.size)) {
        out.push({ path, size: st.size });
        total += st.size;
      }
    }
  };
  walk(root);
  return out;
}

function copyTree(): { files: number; bytes: number } {
  rmSync(work, { recursive: true, force: true });
  const big = collect('/usr/lib', (s) => s > 0, targetBytes, Number.POSITIVE_INFINITY);
  const small = collect('/usr/share', (s) => s > 0 && s <= 16 * 1024, Number.POSITIVE_INFINITY, smallFiles);
  let bytes = 0;
  for (const [root, files] of [
    ['/usr/lib', big],
    ['/usr/share', small],
  ] as const) {
    for (const f of files) {
      const dest = join(src, root.slice(1), relative(root, f.path));
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(f.path, dest);
      bytes += f.size;
    }
  }
  return { files: big.length + small.length, bytes };
}

function seconds(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function secondsAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Changes 1% of the files (spread evenly) by appending bytes. */
function changeOnePercent(): number {
  const files = collect(src, () => true, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  let changed = 0;
  for (let i = 0; i < files.length; i += 100) {
    appendFileSync((files[i] as { path: string }).path, `changed by the benchmark ${Date.now()}\n`);
    changed++;
  }
  return changed;
}

const tree = copyTree();
const mb = tree.bytes / 1e6;
console.log(
  `tree: ${tree.files} files, ${mb.toFixed(0)} MB (load ${loadavg()[0]?.toFixed(1)}, ${cpus().length} cpus)`,
);
// Warm the page cache equally for every contender.
execSync(`tar -cf - -C ${src} . > /dev/null`);

const tarGzipSeconds = seconds(() =>
  execSync(`tar -cf - -C ${src} . | gzip -1 > ${join(work, 'ref.tar.gz')}`, { shell: '/bin/bash' }),
);
const cpSeconds = seconds(() => execSync(`cp -r ${src} ${join(work, 'copy')}`));
rmSync(join(work, 'copy'), { recursive: true, force: true });
rmSync(join(work, 'ref.tar.gz'), { force: true });

const settings = {
  ...DEFAULT_REPO_SETTINGS,
  storageDir: join(work, 'srv'),
  stateDir: join(work, 'state'),
  compressionLevel: Number(values.level),
  workers: Number(values.workers),
};
const repo = Repository.create('bench.example.org', settings);
const publish = () => withTransaction(repo, (tx) => importDirectory(tx, src, '/').then(() => undefined));
const firstSeconds = await secondsAsync(publish);
const unchangedSeconds = await secondsAsync(publish);
const changedFiles = changeOnePercent();
const changedSeconds = await secondsAsync(publish);
const verifySeconds = await secondsAsync(async () => {
  const reader = await RepositoryReader.open(new LocalFetcher(repo.layout.publicDir), {
    fqrn: repo.fqrn,
    masterPublicKeysPem: [repo.masterPublicKey()],
  });
  try {
    await verifyRevision(reader);
  } finally {
    reader.close();
  }
});
const storedBytes = Number(
  execSync(`du -sb ${join(work, 'srv')}`)
    .toString()
    .split('\t')[0],
);

const result = {
  benchmark: 'cvmfs-bridge native publish',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, loadAverage1m: loadavg()[0] },
  settings: { compressionLevel: settings.compressionLevel, workers: settings.workers },
  tree: { files: tree.files, megabytes: Number(mb.toFixed(1)) },
  publish: {
    seconds: Number(firstSeconds.toFixed(2)),
    megabytesPerSecond: Number((mb / firstSeconds).toFixed(1)),
    filesPerSecond: Math.round(tree.files / firstSeconds),
  },
  republishUnchanged: { seconds: Number(unchangedSeconds.toFixed(2)) },
  republishOnePercentChanged: { files: changedFiles, seconds: Number(changedSeconds.toFixed(2)) },
  verify: {
    seconds: Number(verifySeconds.toFixed(2)),
    megabytesPerSecond: Number((mb / verifySeconds).toFixed(1)),
  },
  repositoryMegabytes: Number((storedBytes / 1e6).toFixed(1)),
  reference: {
    tarGzip1: {
      seconds: Number(tarGzipSeconds.toFixed(2)),
      megabytesPerSecond: Number((mb / tarGzipSeconds).toFixed(1)),
    },
    cpR: { seconds: Number(cpSeconds.toFixed(2)), megabytesPerSecond: Number((mb / cpSeconds).toFixed(1)) },
  },
  goals: { megabytesPerSecond: 70, republishUnchangedSeconds: 2 },
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(dirname(values.out as string), { recursive: true });
writeFileSync(values.out as string, `${JSON.stringify(result, null, 2)}\n`);
if (existsSync(work)) rmSync(work, { recursive: true, force: true });
