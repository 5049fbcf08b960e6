import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The folder of wrangler.toml: the package root, whether this runs from source or from dist/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "wrangler.toml"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("wrangler.toml not found above the p2p-share installation");
    dir = parent;
  }
  return dir;
}
