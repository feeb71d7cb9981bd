// Source of the compression worker, kept as a string so one file works both from TypeScript
// sources (tests) and from dist/ (Node cannot load a .ts worker). The worker reads content,
// hashes it raw, consults the content-hash cache, and only compresses on a miss.
export const COMPRESS_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const { Writable } = require('node:stream');

const { dataDir, level, cacheDbPath, betterSqlitePath, smallFileBytes, sampleBytes, maxStoredRatio } = workerData;
// memLevel 9 (zlib's largest hash table and literal buffer): ~10% less CPU per byte at level 1 on
// libraries and sources here, for objects 0.2% larger. Any zlib stream is valid for clients.
const deflateOptions = { level, memLevel: 9 };
let cacheLookup = () => undefined;
if (cacheDbPath) {
  const Database = require(betterSqlitePath);
  const db = new Database(cacheDbPath, { readonly: true, fileMustExist: true });
  const stmt = db.prepare('SELECT object, compressed FROM content WHERE raw = ?');
  cacheLookup = (raw) => stmt.get(raw);
}

const sha1 = (buf) => crypto.hash('sha1', buf, 'hex');
const finalPath = (hash) => path.join(dataDir, hash.slice(0, 2), hash.slice(2));
// Unique within data/txn (one transaction at a time holds the repository lock; it sweeps txn).
const { threadId } = require('node:worker_threads');
let tempCounter = 0;
const tempPath = () => path.join(dataDir, 'txn', 'obj.' + process.pid + '.' + threadId + '.' + (tempCounter++));
const exists = (hash) => fs.existsSync(finalPath(hash));

// Callers checked that the object is missing; if another worker stored the same content
// meanwhile, the rename replaces it with identical bytes.
function publishTemp(temp, hash) {
  fs.renameSync(temp, finalPath(hash));
}

function storeBuffer(raw) {
  const rawHash = sha1(raw);
  const hit = cacheLookup(rawHash);
  if (hit && exists(hit.object)) return { rawHash, hash: hit.object, compressed: hit.compressed === 1 || hit.compressed === 1n, sizeBytes: raw.length, reused: true };
  const deflated = zlib.deflateSync(raw, deflateOptions);
  const compressed = deflated.length < raw.length * maxStoredRatio;
  const stored = compressed ? deflated : raw;
  const hash = compressed ? sha1(deflated) : rawHash;
  if (!exists(hash)) {
    const temp = tempPath();
    fs.writeFileSync(temp, stored);
    publishTemp(temp, hash);
  }
  return { rawHash, hash, compressed, sizeBytes: raw.length, reused: false };
}

async function hashFile(file) {
  const h = crypto.createHash('sha1');
  let sizeBytes = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) { h.update(chunk); sizeBytes += chunk.length; }
  return { rawHash: h.digest('hex'), sizeBytes };
}

async function storeLargeFile(file) {
  const { rawHash, sizeBytes } = await hashFile(file);
  const hit = cacheLookup(rawHash);
  if (hit && exists(hit.object)) return { rawHash, hash: hit.object, compressed: hit.compressed === 1 || hit.compressed === 1n, sizeBytes, reused: true };
  // Decide from a sample so a large incompressible file is not deflated in full for nothing.
  const fd = await fsp.open(file, 'r');
  const sample = Buffer.alloc(Math.min(sampleBytes, sizeBytes));
  await fd.read(sample, 0, sample.length, 0);
  await fd.close();
  const compressible = zlib.deflateSync(sample, deflateOptions).length < sample.length * maxStoredRatio;
  if (!compressible) {
    if (!exists(rawHash)) { const temp = tempPath(); fs.copyFileSync(file, temp); publishTemp(temp, rawHash); }
    return { rawHash, hash: rawHash, compressed: false, sizeBytes, reused: false };
  }
  const temp = tempPath();
  const h = crypto.createHash('sha1');
  const out = fs.createWriteStream(temp);
  const tee = new Writable({
    highWaterMark: 1 << 20,
    write(chunk, _enc, cb) { h.update(chunk); if (!out.write(chunk)) out.once('drain', cb); else cb(); },
    final(cb) { out.end(cb); },
  });
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), zlib.createDeflate({ ...deflateOptions, chunkSize: 1 << 18 }), tee);
  const hash = h.digest('hex');
  publishTemp(temp, hash);
  return { rawHash, hash, compressed: true, sizeBytes, reused: false };
}

async function run(task) {
  if (task.buffer) return storeBuffer(Buffer.from(task.buffer.buffer, task.buffer.byteOffset, task.buffer.byteLength));
  const stat = fs.statSync(task.file);
  const result = stat.size <= smallFileBytes ? storeBuffer(fs.readFileSync(task.file)) : await storeLargeFile(task.file);
  if (task.deleteAfter) fs.rmSync(task.file, { force: true });
  return result;
}

parentPort.on('message', async ({ jobs }) => {
  const results = [];
  for (const task of jobs) {
    try {
      results.push({ id: task.id, result: await run(task) });
    } catch (error) {
      results.push({ id: task.id, error: { message: error.message, code: error.code } });
    }
  }
  parentPort.postMessage({ results });
});
`;
