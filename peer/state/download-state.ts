import { mkdir, open, readFile, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { manifestId, type Manifest } from "../manifest/manifest.js";
import { readJsonFile, writeFileAtomic } from "./atomic-file.js";
import { bitfieldBytes, hasBit, setBit } from "./bitfield.js";

/**
 * A download's progress, in <data-dir>/downloads/: `<sha1>.manifest`, the verified manifest, written once;
 * `<sha1>.json`, a checkpoint written atomically after an fdatasync of the partial file (where the partial
 * file and the destination are, which chunks are on disk: small whatever the file's size), and
 * `<sha1>.journal`, the index of every chunk written since, appended as each one lands (4 bytes, no fsync). A rerun after a crash starts from both: the checkpoint's chunks are
 * trusted as they are; the journal's are hashed once more, since without an fsync a power loss could have
 * kept the journal entry and lost the chunk.
 */

export interface DownloadRecord {
  sha1: string;
  /** Kept in its own file; loadDownload puts it back. */
  manifest: Manifest;
  manifestId: string;
  destination: string;
  partPath: string;
  /** Bitfield of verified chunks, base64. */
  verified: string;
  seed: boolean;
  updatedAt: string;
}

export function downloadsDir(dataDir: string): string {
  return join(dataDir, "downloads");
}

type Checkpoint = Omit<DownloadRecord, "manifest"> & { version: 2 };

function recordPath(dataDir: string, sha1: string): string {
  return join(downloadsDir(dataDir), `${sha1}.json`);
}

function manifestPath(dataDir: string, sha1: string): string {
  return join(downloadsDir(dataDir), `${sha1}.manifest`);
}

/** The download's checkpoint with its manifest, or null if there is none or its parts do not belong together. */
export async function loadDownload(dataDir: string, sha1: string): Promise<DownloadRecord | null> {
  try {
    const checkpoint = await readJsonFile<Checkpoint>(recordPath(dataDir, sha1));
    if (checkpoint?.version !== 2 || checkpoint.sha1 !== sha1) return null;
    const manifest = await readJsonFile<Manifest>(manifestPath(dataDir, sha1));
    if (manifest?.sha1 !== sha1 || manifestId(manifest) !== checkpoint.manifestId) return null;
    const { version: _version, ...rest } = checkpoint;
    return { ...rest, manifest };
  } catch {
    // A record we cannot read is a download we start again, not a failure.
    return null;
  }
}

/**
 * Saves a checkpoint; with `withManifest`, the manifest first (once per run is enough: it never changes,
 * and rewriting it, 7 MiB for a 100 GiB file, at every checkpoint would cost more than the download).
 */
export async function saveDownload(dataDir: string, record: DownloadRecord, withManifest: boolean): Promise<void> {
  await mkdir(downloadsDir(dataDir), { recursive: true, mode: 0o700 });
  const { manifest, ...rest } = record;
  if (withManifest) await writeFileAtomic(manifestPath(dataDir, record.sha1), JSON.stringify(manifest));
  const checkpoint: Checkpoint = { version: 2, ...rest };
  await writeFileAtomic(recordPath(dataDir, record.sha1), JSON.stringify(checkpoint));
}

function journalPath(dataDir: string, sha1: string): string {
  return join(downloadsDir(dataDir), `${sha1}.journal`);
}

/**
 * Ends a download's record. The checkpoint goes first: without it the rest means nothing (loadDownload
 * needs both it and the manifest), so a kill midway leaves no record, only files a next download of the
 * same file overwrites.
 */
export async function removeDownload(dataDir: string, sha1: string): Promise<void> {
  await unlink(recordPath(dataDir, sha1)).catch(() => undefined);
  await unlink(journalPath(dataDir, sha1)).catch(() => undefined);
  await unlink(manifestPath(dataDir, sha1)).catch(() => undefined);
}

/** Chunk indices the journal names (a torn last entry, from a kill mid-write, is ignored). */
export async function readJournal(dataDir: string, sha1: string, count: number): Promise<number[]> {
  const bytes = await readFile(journalPath(dataDir, sha1)).catch(() => Buffer.alloc(0));
  const out: number[] = [];
  for (let at = 0; at + 4 <= bytes.length; at += 4) {
    const index = bytes.readUInt32LE(at);
    if (index < count) out.push(index);
  }
  return out;
}

export class DownloadJournal {
  private constructor(private readonly handle: FileHandle) {}

  /** Opens the journal for appending; `fresh` empties it first (a new download, not a resumed one). */
  static async open(dataDir: string, sha1: string, fresh: boolean): Promise<DownloadJournal> {
    await mkdir(downloadsDir(dataDir), { recursive: true, mode: 0o700 });
    return new DownloadJournal(await open(journalPath(dataDir, sha1), fresh ? "w" : "a", 0o600));
  }

  async append(index: number): Promise<void> {
    const entry = Buffer.allocUnsafe(4);
    entry.writeUInt32LE(index, 0);
    await this.handle.write(entry);
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

export function encodeBitfield(count: number, isSet: (index: number) => boolean): string {
  const bytes = bitfieldBytes(count);
  for (let i = 0; i < count; i++) if (isSet(i)) setBit(bytes, i);
  return Buffer.from(bytes).toString("base64");
}

export function decodeBitfield(encoded: string, count: number): number[] {
  const bytes = Buffer.from(encoded, "base64");
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (hasBit(bytes, i)) out.push(i);
  return out;
}
