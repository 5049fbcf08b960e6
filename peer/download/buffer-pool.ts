/**
 * Chunk-sized buffers in one block of shared memory, allocated once and reused: memory stays flat whatever
 * the file's size, pages are touched once, and the hash worker reads them where they are. A download never
 * has more chunks in hand than this.
 *
 * The block is a shared WebAssembly memory where the engine allows one: V8 maps it with its own pages, so
 * every buffer that starts at a multiple of the page size is page-aligned, which direct I/O requires
 * (storage/chunk-store.ts). JavaScript has no other way to ask for aligned memory: a SharedArrayBuffer
 * comes from malloc, 16 bytes past a page boundary here. Where WebAssembly is unavailable the pool uses a
 * SharedArrayBuffer, and writes fall back to the page cache.
 */
export interface PooledBuffer {
  slot: number;
  buffer: Buffer;
}

const WASM_PAGE = 64 * 1024;

/** The one part of the WebAssembly API used here (its types come with the DOM's, which this project does not load). */
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { buffer: unknown };
}

/** Shared memory of at least `bytes`, page-aligned when possible. */
function sharedMemory(bytes: number): SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    const buffer = wasm === undefined ? null : new wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
    if (buffer instanceof SharedArrayBuffer) return buffer;
  } catch {
    // No WebAssembly, or no address space for it (a low `ulimit -v`): plain shared memory will do.
  }
  return new SharedArrayBuffer(bytes);
}

export class BufferPool {
  readonly memory: SharedArrayBuffer;
  private readonly free: PooledBuffer[] = [];

  constructor(
    readonly bufferSize: number,
    readonly count: number,
  ) {
    this.memory = sharedMemory(bufferSize * count);
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
