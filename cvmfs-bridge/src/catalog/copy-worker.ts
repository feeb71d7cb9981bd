// A thread that runs subtree copies between catalog files (CatalogDb.copySubtreesFromAsync) on
// its own SQLite connection, so the main thread can parse a container layer meanwhile. One per
// process, started on first use; it does not keep the process alive while idle.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BridgeError } from '../errors.js';
import type { SubtreeCopyPlan, SubtreeCopyRunner } from './catalog-db.js';

// Plain JavaScript (like the compression worker): one file that works from the TypeScript
// sources and from dist/. The path keys are md5PathKey's: bytes 0–7 and 8–15 of md5(path) as
// signed little-endian int64.
const SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { hash } = require('node:crypto');
const Database = require(workerData.betterSqlitePath);
const memo = new Map();
function key(path) {
  let k = memo.get(path);
  if (k === undefined) {
    const d = hash('md5', path, 'buffer');
    k = [d.readBigInt64LE(0), d.readBigInt64LE(8)];
    if (memo.size >= 65536) memo.clear();
    memo.set(path, k);
  }
  return k;
}
parentPort.on('message', (m) => {
  let db;
  try {
    db = new Database(m.dest, { fileMustExist: true });
    db.defaultSafeIntegers(true);
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.function('tsw_path_key_hi', { deterministic: true }, (p) => key(String(p))[0]);
    db.function('tsw_path_key_lo', { deterministic: true }, (p) => key(String(p))[1]);
    db.prepare('ATTACH DATABASE ? AS src').run(m.source);
    db.exec('BEGIN');
    const insert = db.prepare(m.insertSql);
    const count = db.prepare(m.countSql);
    const results = m.jobs.map((job) => {
      const info = insert.run(...job.insert);
      return { rows: info.changes, topDirs: Number(count.get(...job.to).n) };
    });
    db.exec('COMMIT');
    db.exec('DETACH DATABASE src');
    db.close();
    parentPort.postMessage({ id: m.id, results });
  } catch (error) {
    try { if (db) db.close(); } catch {}
    parentPort.postMessage({ id: m.id, error: String(error && error.message) });
  }
});
`;

type Reply = { id: number; results?: { rows: number; topDirs: number }[]; error?: string };

class CopyWorker implements SubtreeCopyRunner {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (r: { rows: number; topDirs: number }[]) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  dead = false;

  constructor() {
    const require = createRequire(import.meta.url);
    this.worker = new Worker(SOURCE, {
      eval: true,
      workerData: { betterSqlitePath: require.resolve('better-sqlite3') },
    });
    this.worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (!p) return;
      if (reply.results) p.resolve(reply.results);
      else p.reject(new BridgeError('CATALOG_INVALID', `catalog copy failed: ${reply.error ?? 'unknown'}`));
    });
    const gone = (error: Error) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', gone);
    this.worker.on('exit', (code) =>
      gone(new BridgeError('ABORTED', `catalog copy thread exited (${code})`)),
    );
    // After the listeners: adding a 'message' listener refs the worker's port again, and an
    // idle copy thread kept a finished `container ingest` from exiting.
    this.worker.unref();
  }

  copy(
    request: SubtreeCopyPlan & { readonly dest: string; readonly source: string },
  ): Promise<{ rows: number; topDirs: number }[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, ...request });
    });
  }
}

let shared: CopyWorker | undefined;

/** The process's copy thread (a new one if the last one died). */
export function copyWorker(): SubtreeCopyRunner {
  if (!shared || shared.dead) shared = new CopyWorker();
  return shared;
}
