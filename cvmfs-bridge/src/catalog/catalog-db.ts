// One file catalog on disk (SQLite, schema 2.5): typed reads and writes of rows, nested
// catalog references, statistics and properties. Knows nothing about other catalogs.
import Database from 'better-sqlite3';
import { BridgeError } from '../errors.js';
import { baseName, md5PathKey, type PathKey, parentPath, ROOT_PARENT_KEY } from '../format/hash.js';
import { type Dirent, direntFlags, FLAG, isCompressedFlag, kindFromFlags } from './dirent.js';
import { CATALOG_DDL, COUNTER_NAMES, type Counters, zeroCounters } from './schema.js';
import { decodeXattrs, encodeXattrs } from './xattr.js';

/** A catalog row as stored (for copies that need no Dirent round trip). */
export interface CatalogRow {
  hardlinks: bigint;
  hash: Buffer | null;
  size: bigint;
  mode: bigint;
  mtime: bigint;
  mtimens: bigint | null;
  flags: bigint;
  name: string;
  symlink: string | null;
  uid: bigint;
  gid: bigint;
  xattr: Buffer | null;
}

export interface NestedRef {
  readonly path: string;
  readonly hash: string;
  readonly sizeBytes: number;
}

function rowToDirent(row: CatalogRow): Dirent {
  const flags = Number(row.flags);
  const kind = kindFromFlags(flags);
  const xattrs = decodeXattrs(row.xattr);
  return {
    name: row.name,
    kind,
    mode: Number(row.mode),
    sizeBytes: Number(row.size),
    mtime: Number(row.mtime),
    ...(row.mtimens !== null ? { mtimeNs: Number(row.mtimens) } : {}),
    uid: Number(row.uid),
    gid: Number(row.gid),
    ...(row.hash ? { hash: row.hash.toString('hex') } : {}),
    ...(kind === 'file' ? { compressed: isCompressedFlag(flags) } : {}),
    ...(kind === 'symlink' ? { symlink: row.symlink ?? '' } : {}),
    linkcount: Number(row.hardlinks & 0xffffffffn),
    hardlinkGroup: Number(row.hardlinks >> 32n),
    ...(xattrs ? { xattrs } : {}),
    ...(flags & FLAG.nestedRoot ? { nestedRoot: true } : {}),
    ...(flags & FLAG.nestedMountpoint ? { nestedMountpoint: true } : {}),
  };
}

/** What one subtree copy runs, as SQL and parameters (CatalogDb.copySubtreesFrom). */
export interface SubtreeCopyPlan {
  readonly insertSql: string;
  readonly countSql: string;
  /** Per job: the insert's parameters and the destination key (for the directory count). */
  readonly jobs: readonly { readonly insert: unknown[]; readonly to: [bigint, bigint] }[];
}

/** Runs a plan on its own connection to `dest` with `source` attached as `src` (a thread). */
export interface SubtreeCopyRunner {
  copy(
    request: SubtreeCopyPlan & { readonly dest: string; readonly source: string },
  ): Promise<{ rows: number; topDirs: number }[]>;
}

/**
 * The copy: a recursive walk of the source's parent keys feeds one INSERT…SELECT per job; the
 * new path keys come from the MD5 functions `tsw_path_key_hi`/`_lo` of the connection.
 */
function copyPlan(
  jobs: readonly { readonly from: string; readonly to: string }[],
  exclude: { readonly names: readonly string[]; readonly prefix?: string },
): SubtreeCopyPlan {
  const excludeSql = [
    exclude.names.length > 0 ? `c.name NOT IN (${exclude.names.map(() => '?').join(', ')})` : '1',
    exclude.prefix !== undefined ? 'substr(c.name, 1, ?) <> ?' : '1',
  ].join(' AND ');
  const excludeParams: unknown[] = [...exclude.names];
  if (exclude.prefix !== undefined) excludeParams.push(exclude.prefix.length, exclude.prefix);
  const insertSql = `WITH RECURSIVE t(o1, o2, path, n1, n2, p1, p2, isdir) AS (
       SELECT ?, ?, ?, ?, ?, 0, 0, 1
       UNION ALL
       SELECT c.md5path_1, c.md5path_2, t.path || '/' || c.name,
              tsw_path_key_hi(t.path || '/' || c.name), tsw_path_key_lo(t.path || '/' || c.name),
              t.n1, t.n2, c.flags & 1
       FROM t JOIN src.catalog c ON c.parent_1 = t.o1 AND c.parent_2 = t.o2
       WHERE t.isdir = 1 AND ${excludeSql}
     )
     INSERT INTO main.catalog (md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode,
       mtime, mtimens, flags, name, symlink, uid, gid, xattr)
     SELECT t.n1, t.n2, t.p1, t.p2,
            CASE WHEN c.flags & 1 THEN c.hardlinks & 4294967295 ELSE 1 END,
            c.hash, c.size, c.mode, c.mtime, c.mtimens, c.flags & ~${FLAG.nestedRoot | FLAG.nestedMountpoint},
            c.name, c.symlink, c.uid, c.gid, c.xattr
     FROM t JOIN src.catalog c ON c.md5path_1 = t.o1 AND c.md5path_2 = t.o2
     WHERE t.path <> ?`;
  return {
    insertSql,
    countSql: 'SELECT count(*) AS n FROM catalog WHERE parent_1 = ? AND parent_2 = ? AND flags & 1',
    jobs: jobs.map(({ from, to }) => {
      const fromKey = md5PathKey(from);
      const toKey = md5PathKey(to);
      return {
        insert: [fromKey.hi, fromKey.lo, to, toKey.hi, toKey.lo, ...excludeParams, to],
        to: [toKey.hi, toKey.lo] as [bigint, bigint],
      };
    }),
  };
}

const SELECT_COLUMNS = 'hardlinks, hash, size, mode, mtime, mtimens, flags, name, symlink, uid, gid, xattr';

export class CatalogDb {
  readonly file: string;
  private readonly readonly: boolean;
  private db!: Database.Database;
  private getStmt!: Database.Statement;
  private childrenStmt!: Database.Statement;
  private putStmt!: Database.Statement;
  private deleteStmt!: Database.Statement;

  private constructor(file: string, readonly: boolean) {
    this.file = file;
    this.readonly = readonly;
    this.connect();
  }

  private connect(): void {
    const readonly = this.readonly;
    this.db = new Database(this.file, { readonly, fileMustExist: readonly });
    this.db.defaultSafeIntegers(true);
    if (!readonly) {
      // One self-contained file is what gets compressed and published: no WAL side files. A
      // working copy is private and thrown away if the transaction fails, so its rollback journal
      // lives in memory (no journal file created and deleted per commit) and nothing is fsynced.
      this.db.pragma('journal_mode = MEMORY');
      this.db.pragma('synchronous = OFF');
      // A working copy is private to one transaction: keep one SQLite transaction open and
      // commit it on close, instead of paying a journal round trip per row.
      this.db.exec('BEGIN');
    }
    this.keyFunctionsRegistered = false;
    this.getStmt = this.db.prepare(
      `SELECT ${SELECT_COLUMNS} FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?`,
    );
    this.childrenStmt = this.db.prepare(
      `SELECT ${SELECT_COLUMNS} FROM catalog WHERE parent_1 = ? AND parent_2 = ? ORDER BY name`,
    );
    this.putStmt = readonly
      ? this.getStmt
      : this.db.prepare(
          `INSERT OR REPLACE INTO catalog (md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode,
           mtime, mtimens, flags, name, symlink, uid, gid, xattr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        );
    this.deleteStmt = readonly
      ? this.getStmt
      : this.db.prepare('DELETE FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?');
  }

  static open(file: string, options: { readonly?: boolean } = {}): CatalogDb {
    try {
      const catalog = new CatalogDb(file, options.readonly ?? false);
      catalog.requireSchema();
      return catalog;
    } catch (error) {
      if (error instanceof BridgeError) throw error;
      throw new BridgeError('CATALOG_INVALID', `cannot open catalog: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Creates an empty catalog whose root row is `root` at absolute path `mountpoint`. */
  static create(file: string, mountpoint: string, root: Dirent): CatalogDb {
    const raw = new Database(file);
    // A private working copy (see the constructor): no journal file, no fsyncs (with SQLite's
    // defaults, creating one cost four fsyncs of 1–7 ms here). One transaction for the schema.
    raw.pragma('journal_mode = MEMORY');
    raw.pragma('synchronous = OFF');
    raw.exec('BEGIN');
    raw.exec(CATALOG_DDL);
    const insert = raw.prepare('INSERT INTO statistics (counter, value) VALUES (?, 0)');
    for (const n of COUNTER_NAMES) {
      insert.run(`self_${n}`);
      insert.run(`subtree_${n}`);
    }
    raw.exec('COMMIT');
    raw.close();
    const catalog = new CatalogDb(file, false);
    catalog.setProperty('schema', '2.5');
    catalog.setProperty('schema_revision', '7');
    catalog.setProperty('revision', '0');
    if (mountpoint !== '') catalog.setProperty('root_prefix', mountpoint);
    catalog.put(mountpoint, root);
    return catalog;
  }

  private requireSchema(): void {
    const schema = this.property('schema');
    if (schema === undefined || Math.abs(Number(schema) - 2.5) > 0.0001) {
      throw new BridgeError('CATALOG_INVALID', `catalog schema is ${schema ?? 'missing'}, expected 2.5`);
    }
  }

  get(path: string): Dirent | undefined {
    const key = md5PathKey(path);
    const row = this.getStmt.get(key.hi, key.lo) as CatalogRow | undefined;
    return row ? rowToDirent(row) : undefined;
  }

  children(dirPath: string): Dirent[] {
    const key = md5PathKey(dirPath);
    return (this.childrenStmt.all(key.hi, key.lo) as CatalogRow[]).map(rowToDirent);
  }

  /** A directory's rows as stored, by name (see putRow). */
  childRows(dirPath: string): CatalogRow[] {
    const key = md5PathKey(dirPath);
    return this.childrenStmt.all(key.hi, key.lo) as CatalogRow[];
  }

  /** Writes a stored row at `path` (keys from the path, everything else as given). */
  putRow(path: string, row: CatalogRow): void {
    const key = md5PathKey(path);
    const parent: PathKey = path === '' ? ROOT_PARENT_KEY : md5PathKey(parentPath(path));
    this.putStmt.run(
      key.hi,
      key.lo,
      parent.hi,
      parent.lo,
      row.hardlinks,
      row.hash,
      row.size,
      row.mode,
      row.mtime,
      row.mtimens,
      row.flags,
      row.name,
      row.symlink,
      row.uid,
      row.gid,
      row.xattr,
    );
  }

  put(path: string, d: Dirent): void {
    const key = md5PathKey(path);
    const parent: PathKey = path === '' ? ROOT_PARENT_KEY : md5PathKey(parentPath(path));
    const hardlinks = (BigInt(d.hardlinkGroup) << 32n) | BigInt(d.linkcount);
    this.putStmt.run(
      key.hi,
      key.lo,
      parent.hi,
      parent.lo,
      hardlinks,
      d.hash ? Buffer.from(d.hash, 'hex') : null,
      BigInt(d.sizeBytes),
      BigInt(d.mode),
      BigInt(d.mtime),
      d.mtimeNs === undefined ? null : BigInt(d.mtimeNs),
      BigInt(direntFlags(d)),
      path === '' ? '' : d.name === '' ? baseName(path) : d.name,
      d.kind === 'symlink' ? (d.symlink ?? '') : '',
      BigInt(d.uid),
      BigInt(d.gid),
      encodeXattrs(d.xattrs),
    );
  }

  /**
   * Copies the rows below each `from` in `source` (another catalog) to below its `to` in this
   * one, in SQL: a recursive walk of the source's parent keys feeds one INSERT…SELECT per job,
   * and the new path keys come from an MD5 function registered on this connection. Rows are
   * copied as stored, made movable: no nesting flags, no hard-link group (groups are per
   * catalog), directories keep their link counts. Names in `exclude.names`, or starting with
   * `exclude.prefix`, are left out with everything below them. Each `to` must exist here with
   * nothing below it. Rows of catalogs nested in `source` are not reached (their transition
   * points are copied as plain directories). Returns, per job, the rows copied and how many of
   * them are directories right below `to`.
   */
  copySubtreesFrom(
    source: CatalogDb,
    jobs: readonly { readonly from: string; readonly to: string }[],
    exclude: { readonly names: readonly string[]; readonly prefix?: string },
  ): { rows: number; topDirs: number }[] {
    if (source === this)
      throw new BridgeError('CATALOG_INVALID', 'internal: a subtree copy needs two catalogs');
    if (jobs.length === 0) return [];
    this.registerPathKeyFunctions();
    const plan = copyPlan(jobs, exclude);
    // ATTACH reads the source's file: its open transaction is committed first (working copies
    // are private files), and ATTACH/DETACH are refused inside a transaction.
    source.commitOpen();
    if (this.db.inTransaction) this.db.exec('COMMIT');
    let attached = false;
    try {
      this.db.prepare('ATTACH DATABASE ? AS src').run(source.file);
      attached = true;
      this.db.exec('BEGIN');
      const insert = this.db.prepare(plan.insertSql);
      const countDirs = this.db.prepare(plan.countSql);
      const results = plan.jobs.map(({ insert: params, to }) => {
        const info = insert.run(...params);
        const dirs = countDirs.get(...to) as { n: bigint };
        return { rows: info.changes, topDirs: Number(dirs.n) };
      });
      this.db.exec('COMMIT');
      return results;
    } finally {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      if (attached) this.db.exec('DETACH DATABASE src');
      this.db.exec('BEGIN');
    }
  }

  /**
   * copySubtreesFrom on another thread (`runner`, with its own SQLite connection), so this one
   * stays free for other work meanwhile. This catalog's connection is closed until the copy is
   * done: nothing may use this catalog in between (a use fails, it cannot interleave).
   */
  async copySubtreesFromAsync(
    source: CatalogDb,
    jobs: readonly { readonly from: string; readonly to: string }[],
    exclude: { readonly names: readonly string[]; readonly prefix?: string },
    runner: SubtreeCopyRunner,
  ): Promise<{ rows: number; topDirs: number }[]> {
    if (source === this)
      throw new BridgeError('CATALOG_INVALID', 'internal: a subtree copy needs two catalogs');
    if (jobs.length === 0) return [];
    const plan = copyPlan(jobs, exclude);
    source.commitOpen();
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
    try {
      return await runner.copy({ dest: this.file, source: source.file, ...plan });
    } finally {
      this.connect();
    }
  }

  private keyFunctionsRegistered = false;

  private registerPathKeyFunctions(): void {
    if (this.keyFunctionsRegistered) return;
    // md5PathKey memoises recent paths, so the second half of a key costs a map lookup.
    this.db.function(
      'tsw_path_key_hi',
      { deterministic: true },
      (path: unknown) => md5PathKey(String(path)).hi,
    );
    this.db.function(
      'tsw_path_key_lo',
      { deterministic: true },
      (path: unknown) => md5PathKey(String(path)).lo,
    );
    this.keyFunctionsRegistered = true;
  }

  /** Commits the transaction a writable working copy keeps open, and opens the next one. */
  private commitOpen(): void {
    if (!this.db.inTransaction) return;
    this.db.exec('COMMIT');
    this.db.exec('BEGIN');
  }

  delete(path: string): void {
    const key = md5PathKey(path);
    this.deleteStmt.run(key.hi, key.lo);
  }

  entryCount(): number {
    return Number((this.db.prepare('SELECT count(*) AS n FROM catalog').get() as { n: bigint }).n);
  }

  maxHardlinkGroup(): number {
    const row = this.db.prepare('SELECT max(hardlinks >> 32) AS g FROM catalog').get() as {
      g: bigint | null;
    };
    return Number(row.g ?? 0n);
  }

  /** Hex hashes of every content object this catalog references (files; chunks if any). */
  fileHashes(): string[] {
    const rows = this.db
      .prepare(
        'SELECT hash FROM catalog WHERE hash IS NOT NULL UNION SELECT hash FROM chunks WHERE hash IS NOT NULL',
      )
      .all() as { hash: Buffer }[];
    return rows.map((r) => r.hash.toString('hex'));
  }

  nested(): NestedRef[] {
    const rows = this.db.prepare('SELECT path, sha1, size FROM nested_catalogs ORDER BY path').all() as {
      path: string;
      sha1: string;
      size: bigint;
    }[];
    return rows.map((r) => ({ path: r.path, hash: r.sha1, sizeBytes: Number(r.size) }));
  }

  setNested(ref: NestedRef): void {
    this.db
      .prepare('INSERT OR REPLACE INTO nested_catalogs (path, sha1, size) VALUES (?, ?, ?)')
      .run(ref.path, ref.hash, BigInt(ref.sizeBytes));
  }

  deleteNested(path: string): void {
    this.db.prepare('DELETE FROM nested_catalogs WHERE path = ?').run(path);
  }

  property(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM properties WHERE key = ?').get(key) as
      | { value: string | number | bigint }
      | undefined;
    return row === undefined ? undefined : String(row.value);
  }

  setProperty(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)').run(key, value);
  }

  counters(prefix: 'self' | 'subtree'): Counters {
    const result = zeroCounters();
    const rows = this.db.prepare('SELECT counter, value FROM statistics').all() as {
      counter: string;
      value: bigint;
    }[];
    for (const { counter, value } of rows) {
      const name = counter.slice(prefix.length + 1);
      if (counter.startsWith(`${prefix}_`) && name in result) result[name as keyof Counters] = BigInt(value);
    }
    return result;
  }

  setCounters(prefix: 'self' | 'subtree', counters: Counters): void {
    const stmt = this.db.prepare('INSERT OR REPLACE INTO statistics (counter, value) VALUES (?, ?)');
    for (const n of COUNTER_NAMES) stmt.run(`${prefix}_${n}`, counters[n]);
  }

  /** Counts this catalog's own rows the way upstream's statistics do. */
  countSelf(): Counters {
    const c = zeroCounters();
    const row = this.db
      .prepare(
        `SELECT
          sum(CASE WHEN flags & 1 THEN 1 ELSE 0 END) AS dir,
          sum(CASE WHEN (flags & 4) AND NOT (flags & 24) THEN 1 ELSE 0 END) AS regular,
          sum(CASE WHEN flags & 8 THEN 1 ELSE 0 END) AS symlink,
          sum(CASE WHEN flags & 16 THEN 1 ELSE 0 END) AS special,
          sum(CASE WHEN (flags & 4) AND NOT (flags & 24) THEN size ELSE 0 END) AS file_size,
          sum(CASE WHEN xattr IS NOT NULL THEN 1 ELSE 0 END) AS xattr
        FROM catalog`,
      )
      .get() as Record<string, bigint | null>;
    for (const n of ['dir', 'regular', 'symlink', 'special', 'file_size', 'xattr'] as const)
      c[n] = BigInt(row[n] ?? 0n);
    c.nested = BigInt(this.nested().length);
    return c;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (!this.db.open) return;
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }
}
