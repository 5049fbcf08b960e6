import { realpath } from "node:fs/promises";
import { hashFile } from "../manifest/hash-file.js";
import { manifestId } from "../manifest/manifest.js";
import { fromFsError } from "../errors.js";
import type { Share } from "../state/share-registry.js";

/** Hashes a file (one read) and describes it as a share: what `p2p share` and a finished download both do. */
export async function makeShare(path: string, onProgress?: (bytes: number) => void): Promise<Share> {
  let absolute: string;
  try {
    absolute = await realpath(path);
  } catch (error) {
    throw fromFsError(error, path, "finding it");
  }
  const { manifest, stat } = await hashFile(absolute, onProgress);
  return {
    sha1: manifest.sha1,
    path: absolute,
    manifest,
    manifestId: manifestId(manifest),
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    dev: stat.dev,
    ino: stat.ino,
    addedAt: new Date().toISOString(),
  };
}
