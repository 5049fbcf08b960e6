import type { HashWorker } from "./hash-worker.js";

/**
 * The whole file's SHA-1, computed while the download runs, on the hash worker. SHA-1 must see the chunks
 * in order, and they arrive out of order: a verified chunk that is early keeps its (pooled) buffer until
 * its turn, up to `maxHeld` of them, so that it is hashed from memory. Past that, an early chunk lets its
 * buffer go at once and is read back from the partial file (the page cache) when its turn comes, so that
 * waiting for one slow chunk can never take every buffer. After a restart the verified prefix is read back
 * once, since a hash's state cannot be saved.
 */

interface Held {
  slot: number;
  fed: () => void;
}

export class FileHasher {
  private next = 0;
  private readonly held = new Map<number, Held>();
  private pumping: Promise<void> = Promise.resolve();

  constructor(
    private readonly chunkCount: number,
    private readonly chunkSize: number,
    private readonly lengthOf: (index: number) => number,
    private readonly isWritten: (index: number) => boolean,
    private readonly worker: HashWorker,
    private readonly partPath: string,
    private readonly maxHeld: number,
  ) {}

  /**
   * A verified chunk in buffer `slot`. Resolves when the hasher no longer needs that buffer: at once if it
   * will be read back from the file instead, otherwise once it has been fed. The caller must also call
   * `advance()` once the chunk is written, so that a chunk read back can be fed.
   */
  offer(index: number, slot: number): Promise<void> {
    if (index < this.next || this.held.has(index)) return Promise.resolve();
    if (index !== this.next && this.held.size >= this.maxHeld) return Promise.resolve();
    const fed = new Promise<void>((resolve) => this.held.set(index, { slot, fed: resolve }));
    // A failure here also fails the caller's advance() after its write, which reports it.
    this.advance().catch(() => undefined);
    return fed;
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
        await this.worker.sha1UpdateFromFile(this.partPath, index * this.chunkSize, this.lengthOf(index));
      } else {
        return;
      }
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
