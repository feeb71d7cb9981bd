// Bare webtorrent clients for tests of one transfer module at a time: listening on 127.0.0.1,
// without tracker, DHT, LSD, PEX, UPnP/NAT-PMP or uTP, so peers meet only when a test
// connects them; and a random file to seed. Each test file destroys its own clients.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebTorrent from 'webtorrent';
import { constructListeningOn } from '../../src/transfer/listen-address.js';

/** `secure`: webtorrent's protocol encryption (0 off, as the engine runs it; 1 prefer). */
export function bareClient(secure = 0): WebTorrent {
  return constructListeningOn(
    '127.0.0.1',
    () =>
      new WebTorrent({
        secure,
        torrentPort: 0,
        dht: false,
        tracker: false,
        lsd: false,
        utPex: false,
        natUpnp: false,
        natPmp: false,
        utp: false,
      }),
  );
}

/** The client's peer port, once it listens. */
export async function listeningPort(c: WebTorrent): Promise<number> {
  if (!c.address()) await new Promise((resolve) => c.once('listening', resolve));
  return c.address()?.port ?? 0;
}

/** A new directory holding `seed/image.img` of `size` random bytes. */
export async function seedFile(prefix: string, size: number): Promise<{ dir: string; data: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await mkdir(join(dir, 'seed'));
  const data = randomBytes(size);
  await writeFile(join(dir, 'seed', 'image.img'), data);
  return { dir, data };
}
