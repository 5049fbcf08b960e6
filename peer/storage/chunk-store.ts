import { open, rename, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { syncDir } from "../state/atomic-file.js";

/**
 * Where a download's verified chunks go, behind a small interface so that the downloader does not care
 * whether it is a partial file on disk or memory (tests). Chunk `index` lives at index * chunkSize.
 */
export interface ChunkStore {
  write(index: number, data: Buffer): Promise<void>;
  read(index: number, length: number): Promise<Buffer>;
  /** Makes every write so far durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export class FileChunkStore implements ChunkStore {
  /** Writes run one at a time: concurrent writers of one file only spin on its inode lock. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    private readonly chunkSize: number,
  ) {}

  /** Opens the partial file, creating it at its full size (sparse) if it is new or the wrong size. */
  static async open(path: string, size: number, chunkSize: number, mustExist: boolean): Promise<{ store: FileChunkStore; reused: boolean }> {
    let handle: FileHandle | null = null;
    let reused = false;
    if (mustExist) {
      try {
        handle = await open(path, "r+");
        reused = (await handle.stat()).size === size;
        if (!reused) {
          await handle.close();
          handle = null;
        }
      } catch {
        handle = null;
      }
    }
    if (handle === null) {
      handle = await open(path, "w+", 0o600);
      await handle.truncate(size);
    }
    return { store: new FileChunkStore(handle, path, chunkSize), reused };
  }

  write(index: number, data: Buffer): Promise<void> {
    const write = this.writes.then(() => this.writeNow(index, data));
    this.writes = write.catch(() => undefined);
    return write;
  }

  private async writeNow(index: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, index * this.chunkSize + done);
      done += bytesWritten;
    }
  }

  async read(index: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buffer, done, length - done, index * this.chunkSize + done);
      if (bytesRead === 0) throw new Error(`${this.path} is shorter than expected`);
      done += bytesRead;
    }
    return buffer;
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  /** Moves the finished file into place: fsync, rename in the same folder, fsync the folder. */
  async publish(destination: string): Promise<void> {
    await this.handle.sync();
    await this.close();
    await rename(this.path, destination);
    await syncDir(dirname(destination));
  }
}

export class MemoryChunkStore implements ChunkStore {
  readonly data: Buffer;

  constructor(
    size: number,
    private readonly chunkSize: number,
  ) {
    this.data = Buffer.alloc(size);
  }

  write(index: number, data: Buffer): Promise<void> {
    data.copy(this.data, index * this.chunkSize);
    return Promise.resolve();
  }

  read(index: number, length: number): Promise<Buffer> {
    return Promise.resolve(Buffer.from(this.data.subarray(index * this.chunkSize, index * this.chunkSize + length)));
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
