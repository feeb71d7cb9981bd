// Benchmark: `tsw-endorse add image` (one read: sha256 + torrent pieces) on a multi-GB file
// against the references sha256sum + mktorrent (Debian), and against the two-pass way in
// Node (stream sha256, then create-torrent). Prints MB/s and peak RSS; writes JSON.
//
//   pnpm exec tsx endorser-cli/bench/add-image.ts [sizeGiB=2]   (BENCH_SPARSE_GIB=30: memory check, 0 = off)
//
// Every run reads from the page cache (the file is read once before timing), so the
// figures compare CPU cost of hashing, not the disk.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '..', '..');
const CLI = join(ROOT, 'endorser-cli', 'dist', 'cli.js');
const MiB = 1024 * 1024;

interface Measurement {
  name: string;
  seconds: number;
  mbPerSecond: number;
  peakRssMb: number;
  command: string;
}

function timed(name: string, argv: string[], sizeBytes: number, cwd: string): Measurement {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...argv], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * MiB,
  });
  if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [seconds, rssKb] = last.split(' ').map(Number);
  if (seconds === undefined || rssKb === undefined || Number.isNaN(seconds))
    throw new Error(`${name}: cannot read /usr/bin/time output: ${last}`);
  return {
    name,
    seconds,
    mbPerSecond: Math.round(sizeBytes / 1e6 / Math.max(seconds, 0.01)),
    peakRssMb: Math.round(rssKb / 1024),
    command: argv.join(' '),
  };
}

function makeFile(path: string, sizeBytes: number): void {
  const fd = openSync(path, 'w');
  const block = randomBytes(16 * MiB);
  try {
    for (let written = 0; written < sizeBytes; written += block.length) {
      block.writeUInt32LE(written / block.length, 0); // no two blocks alike
      writeSync(fd, block, 0, Math.min(block.length, sizeBytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

function main(): void {
  const sizeGiB = Number(process.argv[2] ?? process.env.BENCH_SIZE_GIB ?? 2);
  const sizeBytes = Math.round(sizeGiB * 1024 * MiB);
  const dir = mkdtempSync(join(tmpdir(), 'tsw-bench-'));
  try {
    const file = join(dir, 'image.qcow2');
    makeFile(file, sizeBytes);
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache
    const ws = (name: string) => {
      const w = join(dir, name);
      mkdirSync(w);
      const env = {
        ...process.env,
        HOME: w,
        TSW_ENDORSE_WORKSPACE: w,
        TSW_ENDORSE_TORRENT_ANNOUNCE: 'http://127.0.0.1:1/announce',
      };
      spawnSync('node', [CLI, 'catalog', 'new', 'bench'], { env, encoding: 'utf8' });
      return w;
    };
    const twoPass = join(dir, 'two-pass.mjs');
    writeFileSync(
      twoPass,
      `import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import createTorrent from ${JSON.stringify(join(ROOT, 'endorser-cli', 'node_modules', 'create-torrent', 'index.js'))};
const file = process.argv[2];
const h = createHash('sha256');
for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) h.update(chunk);
await new Promise((res, rej) => createTorrent(file, { pieceLength: 4 << 20, announceList: [['http://127.0.0.1:1/announce']] }, (e, t) => e ? rej(e) : res(t)));
console.log(h.digest('hex'));
`,
    );
    const results: Measurement[] = [];
    const runCli = (name: string, extra: string[]) => {
      const w = ws(name);
      results.push(
        timed(
          name,
          [
            'env',
            `HOME=${w}`,
            `TSW_ENDORSE_WORKSPACE=${w}`,
            'TSW_ENDORSE_TORRENT_ANNOUNCE=http://127.0.0.1:1/announce',
            'node',
            CLI,
            'add',
            'image',
            file,
            ...extra,
          ],
          sizeBytes,
          w,
        ),
      );
    };
    runCli('tsw-endorse add image (sha256 + torrent, one read)', []);
    runCli('tsw-endorse add image --sha512', ['--sha512']);
    results.push(timed('sha256sum', ['sha256sum', file], sizeBytes, dir));
    rmSync(join(dir, 'ref.torrent'), { force: true });
    results.push(
      timed(
        'mktorrent -l 22 (4 MiB pieces)',
        ['mktorrent', '-l', '22', '-a', 'http://127.0.0.1:1/announce', '-o', join(dir, 'ref.torrent'), file],
        sizeBytes,
        dir,
      ),
    );
    results.push(
      timed('node two-pass: sha256 stream, then create-torrent', ['node', twoPass, file], sizeBytes, dir),
    );
    // Constant memory on a 30 GiB artifact: a sparse file (reads are cheap zeros), so only
    // the RSS matters here, not the rate.
    const sparseGiB = Number(process.env.BENCH_SPARSE_GIB ?? 30);
    if (sparseGiB > 0) {
      const sparse = join(dir, 'sparse.img');
      const fd = openSync(sparse, 'w');
      closeSync(fd);
      truncateSync(sparse, sparseGiB * 1024 * MiB);
      const w = ws('sparse');
      results.push(
        timed(
          `tsw-endorse add image, ${sparseGiB} GiB sparse file (memory check)`,
          ['env', `HOME=${w}`, `TSW_ENDORSE_WORKSPACE=${w}`, 'node', CLI, 'add', 'image', sparse],
          sparseGiB * 1024 * MiB,
          w,
        ),
      );
    }
    const sha = results.find((r) => r.name === 'sha256sum');
    const mk = results.find((r) => r.name.startsWith('mktorrent'));
    const ours = results[0];
    const reference = sha && mk ? { seconds: sha.seconds + mk.seconds } : undefined;
    const summary = {
      sizeBytes,
      cpus: cpus().length,
      node: process.version,
      loadAverage: loadavg(),
      results,
      referenceSha256sumPlusMktorrentSeconds: reference?.seconds,
      referenceMbPerSecond: reference ? Math.round(sizeBytes / 1e6 / reference.seconds) : undefined,
      oursVsReference: reference && ours ? Number((reference.seconds / ours.seconds).toFixed(2)) : undefined,
    };
    for (const r of results)
      console.log(
        `${r.name.padEnd(55)} ${r.seconds.toFixed(2).padStart(7)} s ${String(r.mbPerSecond).padStart(6)} MB/s  peak RSS ${r.peakRssMb} MB`,
      );
    console.log(
      `reference sha256sum + mktorrent: ${summary.referenceSha256sumPlusMktorrentSeconds?.toFixed(2)} s (${summary.referenceMbPerSecond} MB/s); ours is ${summary.oursVsReference}x its speed`,
    );
    const out = join(ROOT, 'bench-results', 'endorser-add-image.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`wrote ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
