import type { FileHandle } from "node:fs/promises";
import { Errors } from "../errors.js";
import type { Share } from "../state/share-registry.js";
import { openSharedFile } from "./share-file.js";

/**
 * Descriptors of shared files, kept open for a short while and shared by the requests that come meanwhile.
 * A downloader asks a peer for hundreds of chunks a second; opening, checking and closing the file for each
 * was a third of a serving daemon's main-thread time. Each request still checks the open file's size and
 * mtime (an edit in place is refused at once, as before); whether the path still names the same file (not
 * swapped for another file or a symbolic link) is checked whenever the file is opened again, at most
 * `ttlMs` later. A descriptor closes once it is past its time and no request holds it, so a file deleted
 * or replaced does not stay held open.
 */

interface Entry {
  key: string;
  handle: Promise<FileHandle>;
  users: number;
  expired: boolean;
}

export interface Lease {
  handle: FileHandle;
  release: () => void;
}

const DEFAULT_TTL_MS = 1000;

export class OpenFiles {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly ttlMs = DEFAULT_TTL_MS) {}

  /** The share's file, open and checked; throws FILE_CHANGED (or a file-system error) if it is not as shared. */
  async acquire(share: Share): Promise<Lease> {
    if (this.closed) throw new Error("the public server is closed");
    const entry = this.entryFor(share);
    entry.users++;
    let handle: FileHandle;
    try {
      handle = await entry.handle;
      const stat = await handle.stat();
      if (stat.size !== share.size || stat.mtimeMs !== share.mtimeMs) {
        throw Errors.fileChanged(`${share.path} changed since it was shared (size or time); share it again`);
      }
    } catch (error) {
      this.expire(entry);
      this.release(entry);
      throw error;
    }
    let released = false;
    return {
      handle,
      release: () => {
        if (released) return;
        released = true;
        this.release(entry);
      },
    };
  }

  /** Closes every descriptor no request holds; the rest close as their requests end. */
  closeAll(): void {
    this.closed = true;
    for (const entry of [...this.entries.values()]) this.expire(entry);
  }

  private entryFor(share: Share): Entry {
    // Everything that identifies the file as shared: a share hashed again (new mtime, inode) is another entry.
    const key = `${share.sha1}\0${share.path}\0${share.dev}\0${share.ino}\0${share.size}\0${share.mtimeMs}`;
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing;
    const entry: Entry = { key, handle: openSharedFile(share), users: 0, expired: false };
    // A failed open is reported to the requests waiting on it, and the next request tries again.
    entry.handle.catch(() => this.expire(entry));
    this.entries.set(key, entry);
    setTimeout(() => this.expire(entry), this.ttlMs).unref();
    return entry;
  }

  private expire(entry: Entry): void {
    if (entry.expired) return;
    entry.expired = true;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (entry.users === 0) this.close(entry);
  }

  private release(entry: Entry): void {
    entry.users--;
    if (entry.expired && entry.users === 0) this.close(entry);
  }

  private close(entry: Entry): void {
    entry.handle.then(
      (handle) => handle.close().catch(() => undefined),
      () => undefined,
    );
  }
}
