import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Server } from 'bittorrent-tracker';
import createTorrent from 'create-torrent';
import { execa } from 'execa';

const dir = '/tmp/perf/h';
const size = 1 << 30;
const filePath = `${dir}/image.qcow2`;
const hash = createHash('sha256');
const out = createWriteStream(filePath);
for (let left = size; left > 0; left -= 4 << 20) {
  const c = randomBytes(4 << 20);
  hash.update(c);
  if (!out.write(c)) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
const tracker = new Server({ http: true, udp: false, ws: false, stats: false });
await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', () => r()));
const address = tracker.http?.address();
if (!address || typeof address === 'string') throw new Error('x');
const announce = `http://127.0.0.1:${address.port}/announce`;
const t = await new Promise<Uint8Array>((res, rej) =>
  createTorrent(filePath, { announceList: [[announce]], pieceLength: 4 << 20 }, (e, x) =>
    e ? rej(e) : res(x),
  ),
);
await writeFile(`${dir}/image.torrent`, t);
await writeFile(`${dir}/sha256`, hash.digest('hex'));
const p = execa(
  'aria2c',
  [
    '--enable-dht=false',
    '--enable-dht6=false',
    '--enable-peer-exchange=false',
    '--bt-enable-lpd=false',
    '--disable-ipv6=true',
    '--interface=127.0.0.1',
    '--listen-port=46881',
    '--console-log-level=warn',
    '--summary-interval=0',
    `--dir=${dir}`,
    '-V',
    '--seed-ratio=0.0',
    `${dir}/image.torrent`,
  ],
  { stdio: 'inherit' },
);
console.log('ready', announce);
await p;
