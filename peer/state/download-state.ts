import { mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "../manifest/manifest.js";
import { readJsonFile, writeFileAtomic } from "./atomic-file.js";

/**
 * A download's progress, in <data-dir>/downloads/<sha1>.json, written atomically: the verified manifest,
 * where the partial file and the destination are, and which chunks are verified and on disk. A rerun after
 * a crash starts from it and fetches only the rest, without hashing the verified chunks again.
 */

export interface DownloadRecord {
  version: 1;
  sha1: string;
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

function recordPath(dataDir: string, sha1: string): string {
  return join(downloadsDir(dataDir), `${sha1}.json`);
}

export async function loadDownload(dataDir: string, sha1: string): Promise<DownloadRecord | null> {
  try {
    const record = await readJsonFile<DownloadRecord>(recordPath(dataDir, sha1));
    return record?.version === 1 && record.sha1 === sha1 ? record : null;
  } catch {
    // A record we cannot read is a download we start again, not a failure.
    return null;
  }
}

export async function saveDownload(dataDir: string, record: DownloadRecord): Promise<void> {
  await mkdir(downloadsDir(dataDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(recordPath(dataDir, record.sha1), JSON.stringify(record));
}

export async function removeDownload(dataDir: string, sha1: string): Promise<void> {
  await unlink(recordPath(dataDir, sha1)).catch(() => undefined);
}

export function encodeBitfield(count: number, isSet: (index: number) => boolean): string {
  const bytes = Buffer.alloc(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) if (isSet(i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  return bytes.toString("base64");
}

export function decodeBitfield(encoded: string, count: number): number[] {
  const bytes = Buffer.from(encoded, "base64");
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) out.push(i);
  return out;
}
