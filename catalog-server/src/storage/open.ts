// Opens the configured backend and brings its schema up to date.
import type { Config } from '../config.js';
import type { Db } from './db.js';
import { migrate } from './migrations.js';
import { PostgresDb } from './postgres-db.js';
import { SqliteDb } from './sqlite-db.js';

export async function openDb(storage: Config['storage']): Promise<Db> {
  const db =
    storage.backend === 'postgres'
      ? await PostgresDb.connect(storage.postgresUrl, storage.postgresSchema)
      : new SqliteDb(storage.sqlitePath);
  await migrate(db);
  return db;
}
