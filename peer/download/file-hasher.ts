import { createHash, type Hash } from "node:crypto";
import type { ChunkStore } from "../storage/chunk-store.js";

/**
 * The whole file's SHA-1, computed while the download runs: chunks are fed in order as they verify; one
 * that arrives early is read back from the store (the page cache) when its turn comes. After a restart the
 * verified prefix is read back once, since a hash's state cannot be saved.
 */
export class FileHasher {
  private readonly hash: Hash = createHash("sha1");
  private next = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly chunkCount: number,
    private readonly lengthOf: (index: number) => number,
    private readonly isVerified: (index: number) => boolean,
    private readonly store: ChunkStore,
  ) {}

  /** Feeds `index`'s bytes if it is next, then every verified chunk after it. Calls run one at a time. */
  advance(index?: number, data?: Buffer): Promise<void> {
    this.queue = this.queue.then(() => this.step(index, data));
    return this.queue;
  }

  private async step(index?: number, data?: Buffer): Promise<void> {
    if (index !== undefined && data !== undefined && index === this.next) {
      this.hash.update(data);
      this.next++;
    }
    while (this.next < this.chunkCount && this.isVerified(this.next)) {
      this.hash.update(await this.store.read(this.next, this.lengthOf(this.next)));
      this.next++;
    }
  }

  get complete(): boolean {
    return this.next === this.chunkCount;
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}
