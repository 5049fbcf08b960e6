import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdtemp, open, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BufferPool } from "../../peer/download/buffer-pool.js";
import { P2PError } from "../../peer/errors.js";
import { FileChunkStore, openDirect } from "../../peer/storage/chunk-store.js";

/**
 * The partial file on a real file system: whole chunks from pooled (page-aligned) buffers go around the
 * page cache, the short last chunk and unaligned memory through it, and what is read back is what was written.
 */

const CHUNK = 256 * 1024;
const SIZE = CHUNK * 3 + 1000;
let dir: string;
let content: Buffer;
/** Whether this folder's file system takes O_DIRECT at all (Linux ext4 and tmpfs do; macOS has no flag). */
let directAvailable = false;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-chunk-store-"));
  content = randomBytes(SIZE);
  const flag = (constants as { O_DIRECT?: number }).O_DIRECT;
  if (flag !== undefined) {
    const probe = await open(join(dir, "probe"), constants.O_RDWR | constants.O_CREAT | flag, 0o600).catch(() => null);
    directAvailable = probe !== null;
    await probe?.close();
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lengthOf = (index: number): number => Math.min(CHUNK, SIZE - index * CHUNK);
const slice = (index: number): Buffer => content.subarray(index * CHUNK, index * CHUNK + lengthOf(index));

describe("FileChunkStore", () => {
  it("writes whole chunks from pooled buffers with direct I/O, and the last one through the page cache", async () => {
    const path = join(dir, "direct.part");
    const { store } = await FileChunkStore.open(path, SIZE, CHUNK, false);
    const pool = new BufferPool(CHUNK, 2);
    try {
      expect(store.isDirect).toBe(directAvailable);
      for (const index of [3, 1, 0, 2]) {
        const pooled = pool.take();
        slice(index).copy(pooled.buffer);
        await store.write(index, pooled.buffer.subarray(0, lengthOf(index)));
        pool.give(pooled);
      }
      // Pooled buffers are page-aligned: not one write was refused.
      expect(store.isDirect).toBe(directAvailable);
      const target = pool.take();
      for (const index of [0, 1, 2, 3]) {
        target.buffer.fill(0);
        await store.readInto(index, target.buffer, lengthOf(index));
        expect(target.buffer.subarray(0, lengthOf(index)).equals(slice(index))).toBe(true);
      }
      await store.sync();
    } finally {
      await store.close();
    }
    expect((await readFile(path)).equals(content)).toBe(true);
  });

  it("falls back to the page cache for memory direct I/O refuses, and loses nothing", async () => {
    const path = join(dir, "fallback.part");
    const { store } = await FileChunkStore.open(path, SIZE, CHUNK, false);
    try {
      // Buffer.alloc memory is not page-aligned: the first write is refused (EINVAL) and then buffered.
      for (const index of [0, 1, 2, 3]) await store.write(index, Buffer.from(slice(index)));
      expect(store.isDirect).toBe(false);
      expect((await store.read(1, CHUNK)).equals(slice(1))).toBe(true);
    } finally {
      await store.close();
    }
    expect((await readFile(path)).equals(content)).toBe(true);
  });
});

describe("the direct descriptor, opened by path after the first", () => {
  /** The code openDirect fails with, or "opened" (its descriptor then closed). */
  async function reopenFails(path: string, firstPath: string): Promise<string> {
    const first = await open(firstPath, "r+");
    try {
      const direct = await openDirect(path, first);
      await direct?.close();
      return direct === null ? "no direct I/O" : "opened";
    } catch (error) {
      return error instanceof P2PError ? error.code : String(error);
    } finally {
      await first.close();
    }
  }

  it("is the file the first descriptor holds", async (ctx) => {
    if (!directAvailable) ctx.skip();
    const path = join(dir, "same.part");
    await writeFile(path, Buffer.alloc(4096));
    expect(await reopenFails(path, path)).toBe("opened");
  });

  it("is refused when another file was put at the path, which is left untouched", async (ctx) => {
    if (!directAvailable) ctx.skip();
    const ours = join(dir, "ours.part");
    const other = join(dir, "swapped-in.part");
    await writeFile(ours, Buffer.alloc(4096));
    await writeFile(other, "someone else's");
    expect(await reopenFails(other, ours)).toBe("PARTIAL_FILE_REPLACED");
    expect(await readFile(other, "utf8")).toBe("someone else's");
  });

  it("is refused when a symbolic link was put at the path, even to the same file", async (ctx) => {
    if (!directAvailable) ctx.skip();
    const ours = join(dir, "linked-ours.part");
    const link = join(dir, "link.part");
    await writeFile(ours, Buffer.alloc(4096));
    await symlink(ours, link);
    expect(await reopenFails(link, ours)).toBe("PARTIAL_FILE_REPLACED");
  });
});
