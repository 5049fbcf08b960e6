import { constants } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { Errors } from "../errors.js";
import { syncDir } from "../state/atomic-file.js";
import { readFully } from "./read-fully.js";

/**
 * Where a download's verified chunks go, behind a small interface so that the downloader does not care
 * whether it is a partial file on disk or memory (tests). Chunk `index` lives at index * chunkSize.
 */
export interface ChunkStore {
  write(index: number, data: Buffer): Promise<void>;
  read(index: number, length: number): Promise<Buffer>;
  /** Reads chunk `index` into the start of `target`. */
  readInto(index: number, target: Buffer, length: number): Promise<void>;
  /** Makes every write so far durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Direct I/O moves whole blocks between the disk and memory aligned to them; 4 KiB covers every block size
 * Linux asks of it (512 B or 4 KiB).
 */
const DIRECT_ALIGN = 4096;

const aligned = (n: number): boolean => n % DIRECT_ALIGN === 0;

/**
 * The partial file. Chunks are written with direct I/O (O_DIRECT) where the system allows it: a chunk is
 * written once and not read again soon, so copying it into the page cache first only costs CPU, and on a
 * VM whose free memory goes back to the host, much of it. Direct I/O needs the buffer, length and offset
 * aligned to the block size: pooled buffers are (download/buffer-pool.ts), and so are whole chunks; the
 * file's last, shorter chunk, any other buffer, and a file system that refuses O_DIRECT take the page cache
 * through a second, ordinary descriptor. The kernel keeps the two coherent for reads.
 */
export class FileChunkStore implements ChunkStore {
  /** Writes run one at a time: concurrent writers of one file only spin on its inode lock. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    private direct: FileHandle | null,
    readonly path: string,
    private readonly chunkSize: number,
  ) {}

  /**
   * Opens the partial file, creating it at its full size (sparse) if it is new or the wrong size. A new one
   * gets the mode any new file gets (0666 less the umask, as curl's and Transmission's do): it becomes the
   * downloaded file by a rename, which keeps the mode. It is created afresh (O_EXCL, after removing what was
   * there), so that it never keeps the mode of an older file. No open of it follows a symbolic link
   * (O_NOFOLLOW): a link put where a resumed partial file was is removed and the file made afresh, and the
   * direct descriptor, opened by path after the first, must be the same file (openDirect).
   */
  static async open(path: string, size: number, chunkSize: number, mustExist: boolean): Promise<{ store: FileChunkStore; reused: boolean }> {
    let handle: FileHandle | null = null;
    let reused = false;
    if (mustExist) {
      try {
        handle = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
        const info = await handle.stat();
        reused = info.isFile() && info.size === size;
        if (!reused) {
          await handle.close();
          handle = null;
        }
      } catch {
        // Gone, a link (ELOOP), or unreadable: made afresh below.
        handle = null;
      }
    }
    if (handle === null) {
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
      handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
      await handle.truncate(size);
    }
    try {
      const direct = aligned(chunkSize) ? await openDirect(path, handle) : null;
      return { store: new FileChunkStore(handle, direct, path, chunkSize), reused };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /** Whether writes still go around the page cache (false once the system refused it). */
  get isDirect(): boolean {
    return this.direct !== null;
  }

  write(index: number, data: Buffer): Promise<void> {
    const write = this.writes.then(() => this.writeNow(index, data));
    this.writes = write.catch(() => undefined);
    return write;
  }

  private async writeNow(index: number, data: Buffer): Promise<void> {
    const position = index * this.chunkSize;
    if (await this.tryDirect(data, data.length, (direct) => writeAll(direct, data, position))) return;
    await writeAll(this.handle, data, position);
  }

  async read(index: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    await this.readInto(index, buffer, length);
    return buffer;
  }

  /** Reads a chunk back, around the page cache when it was written so (it is not there). */
  async readInto(index: number, target: Buffer, length: number): Promise<void> {
    const position = index * this.chunkSize;
    const read = async (handle: FileHandle): Promise<void> => {
      if ((await readFully(handle, target, 0, length, position)) < length) throw new Error(`${this.path} is shorter than expected`);
    };
    if (await this.tryDirect(target, length, read)) return;
    await read(this.handle);
  }

  /**
   * Runs `io` on the direct descriptor if there is one and `memory` and `length` are aligned. False if it
   * did not run, or was refused (EINVAL: this system will not do direct I/O from this memory or to this
   * file after all, so direct I/O ends here); the caller then goes through the page cache. Redoing a
   * refused write in full is safe: the same bytes land at the same place.
   */
  private async tryDirect(memory: Buffer, length: number, io: (direct: FileHandle) => Promise<void>): Promise<boolean> {
    if (this.direct === null || !aligned(length) || !aligned(memory.byteOffset)) return false;
    try {
      await io(this.direct);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
      await this.dropDirect();
      return false;
    }
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.dropDirect();
    await this.handle.close().catch(() => undefined);
  }

  /** Moves the finished file into place: fsync, rename in the same folder, fsync the folder. */
  async publish(destination: string): Promise<void> {
    await this.handle.sync();
    await this.close();
    await rename(this.path, destination);
    await syncDir(dirname(destination));
  }

  private async dropDirect(): Promise<void> {
    const direct = this.direct;
    this.direct = null;
    await direct?.close().catch(() => undefined);
  }
}

/**
 * A second descriptor for the file `first` holds, with O_DIRECT, or null where the system has none (or
 * refuses it). It is opened by path, so it must be checked to be that file: something swapped in at the
 * path between the two opens (a link, another file) would otherwise get the chunks written through it.
 */
export async function openDirect(path: string, first: FileHandle): Promise<FileHandle | null> {
  const flag = (constants as { O_DIRECT?: number }).O_DIRECT;
  if (flag === undefined) return null;
  let direct: FileHandle;
  try {
    direct = await open(path, constants.O_RDWR | constants.O_NOFOLLOW | flag);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") throw replaced(path, "a symbolic link");
    return null;
  }
  const [expected, found] = await Promise.all([first.stat(), direct.stat()]).catch(async (error: unknown) => {
    await direct.close().catch(() => undefined);
    throw error;
  });
  if (expected.dev !== found.dev || expected.ino !== found.ino) {
    await direct.close().catch(() => undefined);
    throw replaced(path, "another file");
  }
  return direct;
}

function replaced(path: string, by: string): Error {
  return Errors.partialFileReplaced(
    `${path} was replaced by ${by} while the download opened it`,
    "nothing was written to it; remove it if it is not yours and run the same command again",
  );
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
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

  readInto(index: number, target: Buffer, length: number): Promise<void> {
    this.data.copy(target, 0, index * this.chunkSize, index * this.chunkSize + length);
    return Promise.resolve();
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
