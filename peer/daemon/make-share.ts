import { realpath } from "node:fs/promises";
import { hashFile } from "../manifest/hash-file.js";
import { manifestId, type Manifest } from "../manifest/manifest.js";
import { fromFsError } from "../errors.js";
import type { Share } from "../state/share-registry.js";

/** A file's absolute path with every symbolic link resolved, as a share records it. */
export async function sharePath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    throw fromFsError(error, path, "finding it");
  }
}

/** A share of the file at `absolute` (from sharePath), described by `manifest` and the file's identity when it was hashed. */
export function describeShare(absolute: string, manifest: Manifest, stat: Pick<Share, "size" | "mtimeMs" | "dev" | "ino">): Share {
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

/** Hashes a file (one read) and describes it as a share: what `p2p share` and a finished download both do. */
export async function makeShare(path: string, onProgress?: (bytes: number) => void): Promise<Share> {
  const absolute = await sharePath(path);
  const { manifest, stat } = await hashFile(absolute, onProgress);
  return describeShare(absolute, manifest, stat);
}
