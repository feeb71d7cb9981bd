// Test fixtures: a fresh storage backend per test (SQLite file or a private PostgreSQL schema),
// services and an app on top, and a few request helpers.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Config, loadConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { createServices, type Services } from '../src/services.js';
import type { Db } from '../src/storage/db.js';
import { migrate } from '../src/storage/migrations.js';
import { PostgresDb } from '../src/storage/postgres-db.js';
import { SqliteDb } from '../src/storage/sqlite-db.js';

export const postgresUrl = process.env.TSW_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const backends = ['sqlite', 'postgres'] as const;
export type Backend = (typeof backends)[number];

export interface TestDb {
  db: Db;
  dir: string;
  cleanup(): Promise<void>;
}

export async function openTestDb(backend: Backend): Promise<TestDb> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-catalog-'));
  if (backend === 'sqlite') {
    const db = new SqliteDb(join(dir, 'catalog.db'));
    await migrate(db);
    return {
      db,
      dir,
      async cleanup() {
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db = await PostgresDb.connect(postgresUrl, schema);
  await migrate(db);
  return {
    db,
    dir,
    async cleanup() {
      await db.close();
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestServices extends TestDb {
  services: Services;
  config: Readonly<Config>;
}

export async function openTestServices(
  backend: Backend = 'sqlite',
  overrides: Record<string, unknown> = {},
  clock?: () => Date,
): Promise<TestServices> {
  const t = await openTestDb(backend);
  const config = loadConfig({
    overrides: deepMerge({ blobs: { directory: join(t.dir, 'blobs') }, server: { port: 0 } }, overrides),
  });
  const services = await createServices(config, { db: t.db, ...(clock ? { clock } : {}) });
  return { ...t, services, config };
}

type Tree = Record<string, unknown>;
function deepMerge(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      typeof cur === 'object' && cur && typeof v === 'object' && v && !Array.isArray(v)
        ? deepMerge(cur as Tree, v as Tree)
        : v;
  }
  return out;
}

export async function appFor(t: TestServices) {
  return buildApp(t.services);
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Creates a user with the given roles and returns a token holding every scope the roles allow. */
export async function userWithToken(
  services: Services,
  name: string,
  roles: Parameters<Services['accounts']['createUser']>[0]['roles'],
  extra: { endorserIdentity?: string; password?: string } = {},
): Promise<string> {
  const { user } = await services.accounts.createUser({ name, roles, ...extra }, 'test');
  return (await services.accounts.createToken(user, {}, 'test')).token;
}

/** The stable error code of a fetch Response carrying the API error body. */
export async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code ?? '(no error body)';
}

/** multipart/form-data body of the publish endpoint. */
export function publishForm(catalog: Uint8Array, signatures: Uint8Array[]): FormData {
  const form = new FormData();
  form.append('catalog', new Blob([catalog], { type: 'application/yaml' }), 'catalog.yaml');
  for (const [i, s] of signatures.entries()) {
    form.append('signature', new Blob([s], { type: 'application/pkcs7-signature' }), `${i}.p7s`);
  }
  return form;
}
