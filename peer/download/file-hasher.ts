import type { PooledBuffer } from "./buffer-pool.js";
import type { HashWorker } from "./hash-worker.js";

/**
 * The whole file's SHA-1, computed while the download runs, on the hash worker. SHA-1 must see the chunks
 * in order, and they arrive out of order: a verified chunk that is early keeps its (pooled) buffer until
 * its turn, up to `maxHeld` of them, so that it is hashed from memory. Past that, an early chunk lets its
 * buffer go at once and is read back from the partial file into a buffer of the hasher's own when its turn
 * comes, so that waiting for one slow chunk can never take every buffer. The read runs on this thread's I/O
 * pool, never on the hash thread, which only hashes. After a restart the verified prefix is read back once,
 * since a hash's state cannot be saved.
 */

interface Held {
  slot: number;
  fed: () => void;
}

export class FileHasher {
  private next = 0;
  private readonly held = new Map<number, Held>();
  /** Chunks from `next` on that have been offered, held or not. */
  private readonly arrived = new Set<number>();
  private scan = 0;
  private pumping: Promise<void> = Promise.resolve();

  constructor(
    private readonly chunkCount: number,
    private readonly lengthOf: (index: number) => number,
    private readonly isWritten: (index: number) => boolean,
    private readonly worker: HashWorker,
    /** Reads a written chunk back into `target`. */
    private readonly readBack: (index: number, target: Buffer, length: number) => Promise<void>,
    /** The buffer chunks are read back into: the hasher's alone. */
    private readonly scratch: PooledBuffer,
    private readonly maxHeld: number,
  ) {}

  /**
   * A verified chunk in buffer `slot`. Resolves when the hasher no longer needs that buffer: at once if it
   * will be read back from the file instead, otherwise once it has been fed. The caller must also call
   * `advance()` once the chunk is written, so that a chunk read back can be fed.
   */
  offer(index: number, slot: number): Promise<void> {
    if (index < this.next || this.held.has(index)) return Promise.resolve();
    const early = this.isEarly(index);
    this.arrived.add(index);
    if (early && this.early() >= this.maxHeld) return Promise.resolve();
    const fed = new Promise<void>((resolve) => this.held.set(index, { slot, fed: resolve }));
    // A failure here also fails the caller's advance() after its write, which reports it.
    this.advance().catch(() => undefined);
    return fed;
  }

  /**
   * Whether a chunk waits for one that has not arrived. One that only waits in line behind chunks already
   * here (the hash thread is busier than the network, or one is being read back) is not early, and holding
   * it costs nothing: its turn comes as fast as the thread hashes. Only early chunks are limited, so that a
   * slow chunk cannot keep every buffer.
   */
  private isEarly(index: number): boolean {
    return this.firstMissing() < index;
  }

  private early(): number {
    const gap = this.firstMissing();
    let early = 0;
    for (const index of this.held.keys()) if (index > gap) early++;
    return early;
  }

  /** The first chunk from `next` on that is neither offered nor on disk (from before a restart). */
  private firstMissing(): number {
    // Chunks only ever arrive, so the scan resumes where it stopped: amortized constant time.
    this.scan = Math.max(this.scan, this.next);
    while (this.scan < this.chunkCount && (this.arrived.has(this.scan) || this.isWritten(this.scan))) this.scan++;
    return this.scan;
  }

  /** Feeds every chunk whose turn has come, from its held buffer or from the file. Calls run one at a time. */
  advance(): Promise<void> {
    this.pumping = this.pumping.then(() => this.pump());
    return this.pumping;
  }

  /** Lets every held buffer go (the download is ending); those chunks would be read back if it went on. */
  release(): void {
    for (const held of this.held.values()) held.fed();
    this.held.clear();
  }

  private async pump(): Promise<void> {
    while (this.next < this.chunkCount) {
      const index = this.next;
      const held = this.held.get(index);
      if (held !== undefined) {
        try {
          await this.worker.sha1Update(held.slot, this.lengthOf(index));
        } finally {
          this.held.delete(index);
          held.fed();
        }
      } else if (this.isWritten(index)) {
        await this.readBack(index, this.scratch.buffer, this.lengthOf(index));
        await this.worker.sha1Update(this.scratch.slot, this.lengthOf(index));
      } else {
        return;
      }
      this.arrived.delete(index);
      this.next++;
    }
  }

  get complete(): boolean {
    return this.next === this.chunkCount;
  }

  digest(): Promise<string> {
    return this.worker.sha1Digest();
  }
}
