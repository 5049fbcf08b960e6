import { makeShare } from "../daemon/make-share.js";
import { manifestId } from "../manifest/manifest.js";
import { ShareRegistry } from "../state/share-registry.js";
import type { Share } from "../state/share-registry.js";

/**
 * After a download, the file joins the data dir's shares (hashed once more, as any share is, from the page
 * cache). Its manifest keeps the name it was published under, whatever the local copy is called, so that
 * the seeder's manifest has the swarm's manifest id and can be handed to other downloaders.
 */
export async function seedDownloaded(dataDir: string, path: string, published: { name: string; manifestId: string }, registry?: ShareRegistry): Promise<Share> {
  let share = await makeShare(path);
  const manifest = { ...share.manifest, name: published.name };
  if (manifestId(manifest) === published.manifestId) share = { ...share, manifest, manifestId: published.manifestId };
  const target = registry ?? (await ShareRegistry.open(dataDir));
  if (registry === undefined) await target.reload();
  await target.add(share);
  return share;
}
