import type { Manifest } from "../manifest/manifest.js";
import { HaveFeed } from "./have-feed.js";

/**
 * A file this daemon is downloading, as its public port sees it: the verified manifest, which chunks are
 * verified and written (a HaveFeed, which `/have` followers wait on), and a way to read one back from the
 * partial file. The download adds chunks; the daemon's server reads them.
 */
export class PartialFile {
  readonly feed: HaveFeed;

  constructor(
    readonly manifest: Manifest,
    private readonly reader: (index: number, target: Buffer, length: number) => Promise<void>,
    verified: Iterable<number>,
  ) {
    this.feed = new HaveFeed(manifest.chunks.length, verified);
  }

  get sha1(): string {
    return this.manifest.sha1;
  }

  /** Whether the download has ended (finished, failed or stopped): nothing more is served from it. */
  get closed(): boolean {
    return this.feed.closed;
  }

  has(index: number): boolean {
    return this.feed.have.has(index);
  }

  /** Bytes still missing: what the tracker is told as `left`. */
  left(): number {
    const { size, chunkSize, chunks } = this.manifest;
    const last = chunks.length - 1;
    const lastShort = last >= 0 && this.has(last) ? chunkSize - (size - last * chunkSize) : 0;
    return Math.max(0, size - (this.feed.have.seq * chunkSize - lastShort));
  }

  /** A chunk was verified and written: it may be served, and followers are woken. */
  add(index: number): void {
    this.feed.add(index);
  }

  read(index: number, target: Buffer, length: number): Promise<void> {
    return this.reader(index, target, length);
  }

  /** The download ended: followers are answered at once, and the server stops serving from it. */
  close(): void {
    this.feed.close();
  }
}
