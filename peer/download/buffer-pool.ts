/**
 * Chunk-sized buffers in one block of shared memory, allocated once and reused: memory stays flat whatever
 * the file's size, pages are touched once, and the hash worker reads them where they are. A download never
 * has more chunks in hand than this.
 */
export interface PooledBuffer {
  slot: number;
  buffer: Buffer;
}

export class BufferPool {
  readonly memory: SharedArrayBuffer;
  private readonly free: PooledBuffer[] = [];

  constructor(
    readonly bufferSize: number,
    readonly count: number,
  ) {
    this.memory = new SharedArrayBuffer(bufferSize * count);
    for (let slot = count - 1; slot >= 0; slot--) {
      this.free.push({ slot, buffer: Buffer.from(this.memory, slot * bufferSize, bufferSize) });
    }
  }

  get available(): number {
    return this.free.length;
  }

  take(): PooledBuffer {
    const pooled = this.free.pop();
    if (pooled === undefined) throw new Error("buffer pool exhausted");
    return pooled;
  }

  give(pooled: PooledBuffer): void {
    this.free.push(pooled);
  }
}
