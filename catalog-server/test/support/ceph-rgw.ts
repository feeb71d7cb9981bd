// A private single-node Ceph cluster (one mon, one memstore OSD, RADOS Gateway with civetweb) for
// S3 tests, started from an empty directory in ~15 s. Needs the Debian packages ceph-mon,
// ceph-osd and radosgw; fails loudly when they are missing. With `tls`, the same gateway also
// serves HTTPS on a second port, through a beast frontend (`httpsEndpoint`).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RgwInstance {
  endpoint: string;
  /** https://127.0.0.1:PORT when started with `tls`. */
  httpsEndpoint?: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A TLS handshake completes on the port (readiness only: the certificate is the tests' business). */
function tlsHandshakes(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(5000, () => socket.destroy());
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

export interface RgwTls {
  /** PEM file holding the server certificate (chain) followed by its private key. */
  readonly certificateAndKeyFile: string;
}

export async function startRgw(opts: { tls?: RgwTls } = {}): Promise<RgwInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-ceph-'));
  const [monV2, monV1, http] = [await freePort(), await freePort(), await freePort()];
  const https = opts.tls ? await freePort() : undefined;
  // A second frontend, beast, for TLS: civetweb's TLS cannot work with OpenSSL 3 (radosgw
  // 16.2.15 logs "load_dll: libssl.so.3: cannot find SSL_get_peer_certificate", a macro since
  // OpenSSL 3.0, and does not start). Plain HTTP stays on civetweb (see services.md: beast aborts
  // on a multi-object delete with notifications).
  const tlsFrontend = opts.tls
    ? `, beast ssl_endpoint=127.0.0.1:${https} ssl_certificate=${opts.tls.certificateAndKeyFile} tcp_nodelay=1`
    : '';
  const fsid = randomUUID();
  for (const sub of ['mon', 'osd/0', 'run', 'log', 'rgw']) await mkdir(join(dir, sub), { recursive: true });
  const conf = join(dir, 'ceph.conf');
  const monAddr = `[v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`;
  await writeFile(
    conf,
    `[global]
fsid = ${fsid}
mon host = ${monAddr}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id
keyring = ${dir}/$name.keyring
[osd]
osd objectstore = memstore
memstore device bytes = 536870912
[client.rgw.a]
# tcp_nodelay: without it civetweb's small responses wait on Nagle + delayed ACK (~40 ms each).
rgw frontends = civetweb port=127.0.0.1:${http} tcp_nodelay=1${tlsFrontend}
rgw data = ${dir}/rgw
`,
  );
  const sh = (cmd: string, args: string[]) => run(cmd, args, { cwd: dir, timeout: 60_000 });
  const ceph = (args: string[]) => sh('ceph', ['-c', conf, ...args]);
  const stop = async () => {
    const files = await readdir(join(dir, 'run')).catch(() => [] as string[]);
    const pids: number[] = [];
    for (const file of files.filter((f) => f.endsWith('.pid'))) {
      const pid = Number((await readFile(join(dir, 'run', file), 'utf8')).trim());
      if (pid > 0) pids.push(pid);
    }
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await sh('ceph-authtool', [
      '--create-keyring',
      'mon..keyring',
      '--gen-key',
      '-n',
      'mon.',
      '--cap',
      'mon',
      'allow *',
    ]);
    await sh('ceph-authtool', [
      '--create-keyring',
      'client.admin.keyring',
      '--gen-key',
      '-n',
      'client.admin',
      '--cap',
      'mon',
      'allow *',
      '--cap',
      'osd',
      'allow *',
      '--cap',
      'mgr',
      'allow *',
    ]);
    await sh('ceph-authtool', ['mon..keyring', '--import-keyring', 'client.admin.keyring']);
    await sh('monmaptool', ['--create', '--addv', 'a', monAddr, '--fsid', fsid, 'monmap']);
    await sh('ceph-mon', [
      '-c',
      conf,
      '--mkfs',
      '-i',
      'a',
      '--monmap',
      'monmap',
      '--keyring',
      'mon..keyring',
    ]);
    await sh('cp', ['mon..keyring', 'mon.a.keyring']);
    await sh('ceph-mon', ['-c', conf, '-i', 'a']);
    const osdUuid = randomUUID();
    const id = (await ceph(['osd', 'new', osdUuid])).stdout.trim();
    await sh('ceph-authtool', ['--create-keyring', `osd.${id}.keyring`, '--gen-key', '-n', `osd.${id}`]);
    await ceph([
      'auth',
      'add',
      `osd.${id}`,
      'osd',
      'allow *',
      'mon',
      'allow profile osd',
      '-i',
      `osd.${id}.keyring`,
    ]);
    await sh('ceph-osd', ['-c', conf, '-i', id, '--mkfs', '--osd-uuid', osdUuid]);
    await sh('ceph-osd', ['-c', conf, '-i', id]);
    await ceph([
      'auth',
      'get-or-create',
      'client.rgw.a',
      'mon',
      'allow rw',
      'osd',
      'allow rwx',
      '-o',
      'client.rgw.a.keyring',
    ]);
    await sh('radosgw', ['-c', conf, '-n', 'client.rgw.a']);
    const endpoint = `http://127.0.0.1:${http}`;
    await waitFor('radosgw', 60_000, async () => (await fetch(endpoint)).ok);
    if (https !== undefined) await waitFor('radosgw TLS frontend', 30_000, () => tlsHandshakes(https));
    const accessKeyId = 'TSWTESTKEY';
    const secretAccessKey = randomUUID();
    await sh('radosgw-admin', [
      '-c',
      conf,
      'user',
      'create',
      '--uid',
      'tester',
      '--display-name',
      'tester',
      '--access-key',
      accessKeyId,
      '--secret',
      secretAccessKey,
    ]);
    const httpsEndpoint = https === undefined ? undefined : `https://127.0.0.1:${https}`;
    return { endpoint, ...(httpsEndpoint ? { httpsEndpoint } : {}), accessKeyId, secretAccessKey, stop };
  } catch (err) {
    // The gateway's own complaint (a frontend that cannot start, say) is in its log, gone after stop().
    const log = await readFile(join(dir, 'log', 'client.rgw.a.log'), 'utf8').catch(() => '');
    const complaints = log
      .split('\n')
      .filter((l) => /error|fail|unable|cannot|ssl/i.test(l))
      .slice(-5)
      .join(' | ');
    await stop();
    throw new Error(
      `could not start a Ceph RGW for the S3 tests: ${(err as Error).message}${complaints ? `; radosgw log: ${complaints}` : ''}`,
    );
  }
}
