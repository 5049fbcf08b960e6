import { realpath, stat } from "node:fs/promises";
import { makeShare } from "../daemon/make-share.js";
import { fromFsError } from "../errors.js";
import { manifestId, type Manifest } from "../manifest/manifest.js";
import { ShareRegistry } from "../state/share-registry.js";
import type { Share } from "../state/share-registry.js";

/**
 * After a download, the file joins the data dir's shares with the manifest it was verified against: every
 * chunk's SHA-256 and the whole file's SHA-1 were checked as it arrived, so it is not hashed again (3 s for
 * 4 GiB). The manifest keeps the name the file was published under, whatever the local copy is called, so
 * the seeder's manifest id is the swarm's. Should the file no longer be the size it was, it is hashed afresh.
 */
export async function seedDownloaded(dataDir: string, path: string, verified: Manifest, registry?: ShareRegistry): Promise<Share> {
  let absolute: string;
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    absolute = await realpath(path);
    info = await stat(absolute);
  } catch (error) {
    throw fromFsError(error, path, "sharing the downloaded file");
  }
  const share: Share =
    info.size === verified.size
      ? {
          sha1: verified.sha1,
          path: absolute,
          manifest: verified,
          manifestId: manifestId(verified),
          size: info.size,
          mtimeMs: info.mtimeMs,
          dev: info.dev,
          ino: info.ino,
          addedAt: new Date().toISOString(),
        }
      : await makeShare(absolute);
  const target = registry ?? (await ShareRegistry.open(dataDir));
  if (registry === undefined) await target.reload();
  await target.add(share);
  return share;
}
