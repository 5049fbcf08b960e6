import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "../manifest/manifest.js";
import { readJsonFile, writeFileAtomic } from "./atomic-file.js";

/**
 * The files this peer shares, persisted in <data-dir>/shares.json (written atomically), each with its
 * manifest and the identity of the file when it was hashed. Shares are read in place; nothing is copied.
 */

export interface Share {
  sha1: string;
  path: string;
  manifest: Manifest;
  manifestId: string;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  addedAt: string;
}

interface RegistryFile {
  version: 1;
  shares: Share[];
}

export class ShareRegistry {
  private readonly shares = new Map<string, Share>();
  private writing: Promise<void> = Promise.resolve();
  /** The write queued behind the one on its way, not yet started: it takes every change made meanwhile. */
  private next: Promise<void> | null = null;
  /** How many times shares.json was written (changes made together are written once). */
  writes = 0;
  private changeCount = 0;

  private constructor(private readonly file: string) {}

  static async open(dataDir: string): Promise<ShareRegistry> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const registry = new ShareRegistry(join(dataDir, "shares.json"));
    await registry.reload();
    return registry;
  }

  /** Reads the file again: another process (a CLI without a daemon) may have added shares. */
  async reload(): Promise<void> {
    const stored = await readJsonFile<RegistryFile>(this.file);
    this.shares.clear();
    this.changeCount++;
    for (const share of stored?.shares ?? []) this.shares.set(share.sha1, share);
  }

  /** Counts every change of the list: a watcher (the dashboard's feed) compares it instead of the list. */
  get changes(): number {
    return this.changeCount;
  }

  get(sha1: string): Share | undefined {
    return this.shares.get(sha1);
  }

  list(): Share[] {
    return [...this.shares.values()].sort((a, b) => a.addedAt.localeCompare(b.addedAt));
  }

  async add(share: Share): Promise<void> {
    this.shares.set(share.sha1, share);
    this.changeCount++;
    await this.save();
  }

  async remove(sha1: string): Promise<boolean> {
    const existed = this.shares.delete(sha1);
    if (existed) this.changeCount++;
    if (existed) await this.save();
    return existed;
  }

  /**
   * Saves are serialised, so that the last state always wins on disk, and coalesced: changes made while a
   * write is on its way are written together by the one next write, which takes the state when it starts.
   * (Sharing 10,000 files one after another rewrote the whole file 10,000 times.) Each caller's promise
   * resolves once a write that includes its change is on disk.
   */
  private save(): Promise<void> {
    this.next ??= this.writing
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        this.writes += 1;
        const snapshot: RegistryFile = { version: 1, shares: this.list() };
        return writeFileAtomic(this.file, `${JSON.stringify(snapshot, null, 1)}\n`);
      });
    this.writing = this.next;
    return this.next;
  }
}
