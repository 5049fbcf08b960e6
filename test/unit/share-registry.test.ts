import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { manifestId, type Manifest } from "../../peer/manifest/manifest.js";
import { ShareRegistry, type Share } from "../../peer/state/share-registry.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function share(i: number): Share {
  const sha1 = i.toString(16).padStart(40, "0");
  const manifest: Manifest = { version: 1, sha1, name: `f${i}`, size: 0, chunkSize: 1048576, chunks: [] } as unknown as Manifest;
  return { sha1, path: `/data/f${i}`, manifest, manifestId: manifestId(manifest), size: 0, mtimeMs: 0, dev: 0, ino: i, addedAt: new Date(1_700_000_000_000 + i).toISOString() };
}

describe("the share registry", () => {
  it("writes changes made together once, and every one of them reaches the disk", async () => {
    dir = await mkdtemp(join(tmpdir(), "p2p-registry-"));
    const registry = await ShareRegistry.open(dir);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => registry.add(share(i))));
    expect(registry.writes).toBeLessThanOrEqual(2);
    // Changes while a write is on its way: one more write for all of them.
    const first = registry.add(share(5000));
    const more = Array.from({ length: 100 }, (_, i) => registry.add(share(6000 + i)));
    await Promise.all([first, ...more, registry.remove(share(0).sha1)]);
    expect(registry.writes).toBeLessThanOrEqual(4);
    const reopened = await ShareRegistry.open(dir);
    expect(reopened.list()).toHaveLength(2000 + 1 + 100 - 1);
    expect(reopened.get(share(6099).sha1)?.path).toBe("/data/f6099");
    expect(reopened.get(share(0).sha1)).toBeUndefined();
  });
});
