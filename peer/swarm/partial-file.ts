import type { Manifest } from "../manifest/manifest.js";
import { HaveLog } from "./have-log.js";

/**
 * A file this daemon is downloading, as its public port sees it: the verified manifest, which chunks are
 * verified and written (a HaveLog), a way to read one back from the partial file, and a way for `/have`
 * followers to wait for the next chunk. The download adds chunks; the daemon's server reads them.
 */
export class PartialFile {
  readonly have: HaveLog;
  private readonly waiters = new Set<() => void>();
  private ended = false;

  constructor(
    readonly manifest: Manifest,
    private readonly reader: (index: number, target: Buffer, length: number) => Promise<void>,
    verified: Iterable<number>,
  ) {
    this.have = new HaveLog(manifest.chunks.length, verified);
  }

  get sha1(): string {
    return this.manifest.sha1;
  }

  /** Whether the download has ended (finished, failed or stopped): nothing more is served from it. */
  get closed(): boolean {
    return this.ended;
  }

  /** Bytes still missing: what the tracker is told as `left`. */
  left(): number {
    const { size, chunkSize, chunks } = this.manifest;
    const last = chunks.length - 1;
    const lastShort = last >= 0 && this.have.has(last) ? chunkSize - (size - last * chunkSize) : 0;
    return Math.max(0, size - (this.have.seq * chunkSize - lastShort));
  }

  /** A chunk was verified and written: it may be served, and followers are woken. */
  add(index: number): void {
    if (this.ended || !this.have.add(index)) return;
    this.wakeAll();
  }

  read(index: number, target: Buffer, length: number): Promise<void> {
    return this.reader(index, target, length);
  }

  /**
   * Resolves once a chunk beyond position `seq` has arrived, the download has ended, `ms` have passed or
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

  /** The download ended: followers are answered at once, and the server stops serving from it. */
  close(): void {
    this.ended = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
