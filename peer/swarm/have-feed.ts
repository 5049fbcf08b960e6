import { HaveLog } from "./have-log.js";

/**
 * A HaveLog that `/have` followers can wait on: adding a chunk wakes them, closing answers them at once. A
 * download in progress has one (partial-file.ts); a super-seeding sharer keeps one per client (super-seed.ts).
 */
export class HaveFeed {
  readonly have: HaveLog;
  private readonly waiters = new Set<() => void>();
  private ended = false;

  constructor(chunkCount: number, initial: Iterable<number> = []) {
    this.have = new HaveLog(chunkCount, initial);
  }

  get closed(): boolean {
    return this.ended;
  }

  add(index: number): void {
    if (this.ended || !this.have.add(index)) return;
    this.wakeAll();
  }

  /**
   * Resolves once a chunk beyond position `seq` has arrived, the feed is closed, `ms` have passed or
   * `signal` is aborted (the follower went away), whichever comes first.
   */
  waitBeyond(seq: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.have.seq > seq || this.ended || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  close(): void {
    this.ended = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
