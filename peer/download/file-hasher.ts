import type { HashWorker } from "./hash-worker.js";

/**
 * The whole file's SHA-1, computed while the download runs, on the hash worker: chunks are fed in order as
 * they are verified and written; one that arrived early is read back from the partial file (the page cache)
 * when its turn comes. After a restart the verified prefix is read back once, since a hash's state cannot
 * be saved.
 */
export class FileHasher {
  private next = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly chunkCount: number,
    private readonly chunkSize: number,
    private readonly lengthOf: (index: number) => number,
    private readonly isWritten: (index: number) => boolean,
    private readonly worker: HashWorker,
    private readonly partPath: string,
  ) {}

  /**
   * Feeds chunk `index` from its pooled buffer if it is next, then every written chunk after it from the
   * file. Resolves once the worker is done with the buffer. Calls run one at a time.
   */
  advance(index?: number, slot?: number): Promise<void> {
    this.queue = this.queue.then(() => this.step(index, slot));
    return this.queue;
  }

  private async step(index?: number, slot?: number): Promise<void> {
    if (index !== undefined && slot !== undefined && index === this.next) {
      await this.worker.sha1Update(slot, this.lengthOf(index));
      this.next++;
    }
    while (this.next < this.chunkCount && this.isWritten(this.next)) {
      await this.worker.sha1UpdateFromFile(this.partPath, this.next * this.chunkSize, this.lengthOf(this.next));
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
