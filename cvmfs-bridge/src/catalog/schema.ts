// DDL of a file catalog, schema 2.5 revision 7 (upstream cvmfs/catalog_sql.cc), and the
// 24 statistics counters every catalog must carry.

export const CATALOG_DDL = `
CREATE TABLE catalog (md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, parent_2 INTEGER,
  hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, mtime INTEGER, mtimens INTEGER,
  flags INTEGER, name TEXT, symlink TEXT, uid INTEGER, gid INTEGER, xattr BLOB,
  CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2));
CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2);
CREATE TABLE chunks (md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, size INTEGER, hash BLOB,
  CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, offset, size),
  FOREIGN KEY (md5path_1, md5path_2) REFERENCES catalog(md5path_1, md5path_2));
CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER,
  CONSTRAINT pk_nested_catalogs PRIMARY KEY (path));
CREATE TABLE bind_mountpoints (path TEXT, sha1 TEXT, size INTEGER,
  CONSTRAINT pk_bind_mountpoints PRIMARY KEY (path));
CREATE TABLE statistics (counter TEXT, value INTEGER, CONSTRAINT pk_statistics PRIMARY KEY (counter));
CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));
`;

export const COUNTER_NAMES = [
  'regular',
  'symlink',
  'special',
  'dir',
  'nested',
  'chunked',
  'chunks',
  'file_size',
  'chunked_size',
  'xattr',
  'external',
  'external_file_size',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, bigint>;

export function zeroCounters(): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0n])) as Counters;
}

export function addCounters(a: Counters, b: Counters, sign: 1n | -1n = 1n): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((n) => [n, a[n] + sign * b[n]])) as Counters;
}

export function isZero(c: Counters): boolean {
  return COUNTER_NAMES.every((n) => c[n] === 0n);
}
