// A private single-node Ceph cluster (one mon, one memstore OSD, RADOS Gateway with civetweb) for
// S3 tests, started from an empty directory in ~15 s. Needs the Debian packages ceph-mon,
// ceph-osd and radosgw; fails loudly when they are missing.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RgwInstance {
  endpoint: string;
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

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

export async function startRgw(): Promise<RgwInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-ceph-'));
  const [monV2, monV1, http] = [await freePort(), await freePort(), await freePort()];
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
rgw frontends = civetweb port=127.0.0.1:${http} tcp_nodelay=1
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
    return { endpoint, accessKeyId, secretAccessKey, stop };
  } catch (err) {
    await stop();
    throw new Error(`could not start a Ceph RGW for the S3 tests: ${(err as Error).message}`);
  }
}
