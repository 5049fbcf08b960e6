import { makeShare } from "../daemon/make-share.js";
import { ShareRegistry } from "../state/share-registry.js";
import type { Share } from "../state/share-registry.js";

/** After a download, the file joins the data dir's shares (hashed once more, as any share is, from the page cache). */
export async function seedDownloaded(dataDir: string, path: string, registry?: ShareRegistry): Promise<Share> {
  const share = await makeShare(path);
  const target = registry ?? (await ShareRegistry.open(dataDir));
  if (registry === undefined) await target.reload();
  await target.add(share);
  return share;
}
