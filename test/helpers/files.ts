import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Real files of random bytes for tests, and their SHA-1 the way sha1sum computes it. */

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `p2p-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function randomFile(path: string, size: number): Promise<string> {
  const handle = await open(path, "w");
  const hash = createHash("sha1");
  try {
    let written = 0;
    while (written < size) {
      const block = randomBytes(Math.min(4 * 1024 * 1024, size - written));
      await handle.write(block, 0, block.length, written);
      hash.update(block);
      written += block.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

export async function sha1File(path: string): Promise<string> {
  const hash = createHash("sha1");
  for await (const part of createReadStream(path)) hash.update(part as Buffer);
  return hash.digest("hex");
}
