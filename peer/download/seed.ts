import { stat } from "node:fs/promises";
import { describeShare, makeShare, sharePath } from "../daemon/make-share.js";
import { fromFsError } from "../errors.js";
import type { Manifest } from "../manifest/manifest.js";
import { ShareRegistry } from "../state/share-registry.js";
import type { Share } from "../state/share-registry.js";

/**
 * After a download, the file joins the data dir's shares with the manifest it was verified against: every
 * chunk's SHA-256 and the whole file's SHA-1 were checked as it arrived, so it is not hashed again (3 s for
 * 4 GiB). The manifest keeps the name the file was published under, whatever the local copy is called, so
 * the seeder's manifest id is the swarm's. Should the file no longer be the size it was, it is hashed afresh.
 */
export async function seedDownloaded(dataDir: string, path: string, verified: Manifest, registry?: ShareRegistry): Promise<Share> {
  const absolute = await sharePath(path);
  const info = await stat(absolute).catch((error: unknown) => {
    throw fromFsError(error, path, "sharing the downloaded file");
  });
  const share = info.size === verified.size ? describeShare(absolute, verified, info) : await makeShare(absolute);
  const target = registry ?? (await ShareRegistry.open(dataDir));
  if (registry === undefined) await target.reload();
  await target.add(share);
  return share;
}
