// RabbitMQ for the flow tests: the machine's shared broker (started when it is down, never
// restarted), and private brokers a test may stop and start at will.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { execa } from 'execa';

const RABBIT_BIN = '/usr/lib/rabbitmq/bin';
export const SHARED_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function canConnect(url: string): Promise<boolean> {
  try {
    const c = await amqp.connect(url);
    await c.close();
    return true;
  } catch {
    return false;
  }
}

async function waitConnectable(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(url)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`RabbitMQ at ${url} not reachable after ${timeoutMs} ms`);
}

/** The shared broker on 5672; starts it (`rabbitmq-server -detached`) when it is down. */
export async function ensureSharedRabbit(): Promise<string> {
  if (await canConnect(SHARED_AMQP_URL)) return SHARED_AMQP_URL;
  await execa('rabbitmq-server', ['-detached'], { reject: false });
  await waitConnectable(SHARED_AMQP_URL, 60_000);
  return SHARED_AMQP_URL;
}

export interface PrivateRabbit {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A private broker (own node name, ports, data) that this test alone starts and stops. */
export async function startPrivateRabbit(): Promise<PrivateRabbit> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-rabbit-'));
  const port = await freePort();
  const distPort = await freePort();
  const name = `tswtest${process.pid}${port}`;
  for (const sub of ['home', 'mnesia', 'log']) await mkdir(join(dir, sub));
  await writeFile(
    join(dir, 'rabbitmq.conf'),
    `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`,
  );
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  const env = {
    ...process.env,
    HOME: join(dir, 'home'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
    RABBITMQ_NODENAME: `${name}@localhost`,
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    // The /usr/sbin wrappers switch to the rabbitmq user, who cannot write this private directory.
    child = spawn(`${RABBIT_BIN}/rabbitmq-server`, [], { env, stdio: 'ignore' });
    await waitConnectable(url, 60_000);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    await execa(`${RABBIT_BIN}/rabbitmqctl`, ['-n', `${name}@localhost`, 'stop'], {
      env,
      reject: false,
      timeout: 30_000,
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await start();
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
