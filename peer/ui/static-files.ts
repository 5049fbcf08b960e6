import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The page's files: a fixed map from URL path to file, read into memory when the dashboard starts. No part of
 * a request's path ever reaches the file system: a path not in the map is a 404.
 */

export interface StaticFile {
  type: string;
  body: Buffer;
}

const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
  "/icon.svg": { file: "icon.svg", type: "image/svg+xml" },
};

/** peer/ui/static in the installation: beside this module in the sources, two levels up from dist's copy. */
function staticDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "peer", "ui", "static");
    if (existsSync(join(candidate, "index.html"))) return candidate;
    if (existsSync(join(dir, "static", "index.html"))) return join(dir, "static");
    const parent = dirname(dir);
    if (parent === dir) throw new Error("peer/ui/static not found above the p2p-share installation");
    dir = parent;
  }
}

export async function loadStaticFiles(): Promise<ReadonlyMap<string, StaticFile>> {
  const dir = staticDir();
  const files = new Map<string, StaticFile>();
  for (const [path, { file, type }] of Object.entries(FILES)) files.set(path, { type, body: await readFile(join(dir, file)) });
  return files;
}
