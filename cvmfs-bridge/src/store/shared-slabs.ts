// Reusable shared memory for the contents handed to the compression workers. A Buffer per file
// (allocated here, transferred there) counts as new external memory of this isolate, and V8
// starts a full mark-compact for every 64 MB of it: a 1.1 GB image's first ingest ran ~66 of
// them (the heap itself stayed at 30 MB), each marking the whole heap on this thread and on
// V8's helper threads. Contents copied into a few SharedArrayBuffer slabs, made once and shared
// with the workers once, allocate nothing per file.
//
// A region is live from `alloc` until the pool settles the task that stored it (the worker
// has read it then); a slab is handed out again only once none of its regions is live.

export interface SharedRegion {
  readonly slab: number;
  readonly offset: number;
  readonly length: number;
}

interface Slab {
  readonly id: number;
  readonly memory: SharedArrayBuffer;
  /** Bytes handed out since the slab was last empty (bump allocation). */
  used: number;
  /** Regions handed out and not yet released. */
  live: number;
}

export interface SharedSlabsOptions {
  readonly slabBytes: number;
  readonly maxSlabs: number;
  /** Larger contents get a Buffer of their own (a slab would be held for one file). */
  readonly maxContentBytes: number;
  /** Called for every new slab before any region of it is handed out (share it with workers). */
  readonly onSlab: (id: number, memory: SharedArrayBuffer) => void;
  /** Called for a slab that is dropped (workers may let go of it). */
  readonly onDrop: (id: number) => void;
}

export class SharedSlabs {
  private readonly options: SharedSlabsOptions;
  private readonly slabs = new Map<number, Slab>();
  private readonly byMemory = new Map<ArrayBufferLike, Slab>();
  private current: Slab | undefined;
  private nextId = 1;

  constructor(options: SharedSlabsOptions) {
    this.options = options;
  }

  /**
   * A Buffer of `size` bytes in a slab, or undefined when the content is too large or every
   * slab is busy (the caller allocates one of its own then: nobody waits for a slab).
   */
  alloc(size: number): Buffer | undefined {
    if (size <= 0 || size > this.options.maxContentBytes) return undefined;
    const slab = this.slabFor(size);
    if (!slab) return undefined;
    const offset = slab.used;
    slab.used += size;
    slab.live++;
    return Buffer.from(slab.memory, offset, size);
  }

  /** The region `bytes` occupies, when it is a Buffer `alloc` handed out. */
  regionOf(bytes: Uint8Array): SharedRegion | undefined {
    const slab = this.byMemory.get(bytes.buffer);
    if (!slab) return undefined;
    return { slab: slab.id, offset: bytes.byteOffset, length: bytes.byteLength };
  }

  /** The worker is done with the region: its slab may be reused once all its regions are. */
  release(region: SharedRegion): void {
    const slab = this.slabs.get(region.slab);
    if (slab) slab.live--;
  }

  /**
   * Drops every slab with regions still handed out (contents allocated but never stored, as when
   * a layer failed mid-member): a late write into one must never land in a later task's region.
   * Only called when no task is queued or running.
   */
  dropBusy(): void {
    for (const slab of [...this.slabs.values()]) {
      if (slab.live === 0) continue;
      this.slabs.delete(slab.id);
      this.byMemory.delete(slab.memory);
      if (this.current === slab) this.current = undefined;
      this.options.onDrop(slab.id);
    }
  }

  get slabCount(): number {
    return this.slabs.size;
  }

  private slabFor(size: number): Slab | undefined {
    const { slabBytes, maxSlabs } = this.options;
    const current = this.current;
    if (current && current.live === 0) current.used = 0;
    if (current && current.used + size <= slabBytes) return current;
    for (const slab of this.slabs.values()) {
      if (slab.live !== 0) continue;
      slab.used = 0;
      this.current = slab;
      return slab;
    }
    if (this.slabs.size >= maxSlabs) return undefined;
    const slab: Slab = { id: this.nextId++, memory: new SharedArrayBuffer(slabBytes), used: 0, live: 0 };
    this.slabs.set(slab.id, slab);
    this.byMemory.set(slab.memory, slab);
    this.options.onSlab(slab.id, slab.memory);
    this.current = slab;
    return slab;
  }
}
