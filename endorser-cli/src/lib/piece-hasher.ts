// SHA-1 of BitTorrent pieces on a worker thread, so piece hashing runs beside the main
// thread's sha256 instead of after it (two hashes of every byte, two cores). The piece
// bytes are in SharedArrayBuffers: nothing is copied between threads.

import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const slots = workerData.slots.map((sab) => new Uint8Array(sab));
parentPort.on('message', ({ id, slot, length }) => {
  const digest = createHash('sha1').update(slots[slot].subarray(0, length)).digest();
  parentPort.postMessage({ id, digest });
});
`;

export class PieceHasher {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (d: Buffer) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Views of the shared slots, for the reader to fill. */
  readonly slots: Buffer[];

  constructor(slotCount: number, slotBytes: number) {
    const sabs = Array.from({ length: slotCount }, () => new SharedArrayBuffer(slotBytes));
    this.slots = sabs.map((sab) => Buffer.from(sab));
    // execArgv: [] so a parent's --input-type=module does not turn this CommonJS source into ESM.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { slots: sabs } });
    this.worker.on('message', ({ id, digest }: { id: number; digest: Uint8Array }) => {
      this.pending.get(id)?.resolve(Buffer.from(digest));
      this.pending.delete(id);
    });
    this.worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** SHA-1 of the first `length` bytes of a slot; the slot must not change until it resolves. */
  digest(slot: number, length: number): Promise<Buffer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, slot, length });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
