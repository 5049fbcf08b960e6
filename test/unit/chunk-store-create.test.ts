import { chmod, lstat, mkdtemp, readFile, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileChunkStore } from "../../peer/storage/chunk-store.js";

/** How the partial file is created: the mode of any new file, and always a new file of its own. */

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-chunk-store-create-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

/** The mode this process gives a new file, found by making one. */
async function newFileMode(): Promise<number> {
  const probe = join(dir, "probe");
  await writeFile(probe, "", { mode: 0o666 });
  const mode = await modeOf(probe);
  await unlink(probe);
  return mode;
}

describe("FileChunkStore.open", () => {
  it("creates the partial file with the mode a new file of this process gets (0666 less the umask), not 0600", async () => {
    const path = join(dir, "new.part");
    const { store } = await FileChunkStore.open(path, 1000, 4096, false);
    await store.close();
    expect((await modeOf(path)).toString(8)).toBe((await newFileMode()).toString(8));
  });

  it("replaces an older file there, and so its mode, rather than reusing it", async () => {
    const path = join(dir, "old.part");
    await writeFile(path, "old", { mode: 0o600 });
    await chmod(path, 0o600);
    const { store, reused } = await FileChunkStore.open(path, 1000, 4096, false);
    await store.close();
    expect(reused).toBe(false);
    expect((await stat(path)).size).toBe(1000);
    expect((await modeOf(path)).toString(8)).toBe((await newFileMode()).toString(8));
  });

  it("does not write through a symbolic link put where the partial file goes", async () => {
    const target = join(dir, "victim");
    await writeFile(target, "keep me");
    const path = join(dir, "linked.part");
    await symlink(target, path);
    const { store } = await FileChunkStore.open(path, 1000, 4096, false);
    await store.write(0, Buffer.alloc(1000, 1));
    await store.close();
    expect(await readFile(target, "utf8")).toBe("keep me");
    expect((await lstat(path)).isFile()).toBe(true);
  });
});

describe("FileChunkStore.open on resume", () => {
  it("does not resume through a symbolic link put where the partial file was: the link's target is untouched", async () => {
    const target = join(dir, "resume-victim");
    // Exactly the partial file's size, so that it would pass for one.
    const original = Buffer.alloc(8192, 7);
    await writeFile(target, original);
    const path = join(dir, "resume-linked.part");
    await symlink(target, path);
    const { store, reused } = await FileChunkStore.open(path, original.length, 4096, true);
    try {
      expect(reused).toBe(false);
      await store.write(0, Buffer.alloc(4096, 1));
      await store.sync();
    } finally {
      await store.close();
    }
    expect((await readFile(target)).equals(original)).toBe(true);
    expect((await lstat(path)).isFile()).toBe(true);
  });

  it("resumes the partial file itself when it is there", async () => {
    const path = join(dir, "resume-own.part");
    await writeFile(path, Buffer.alloc(8192, 3));
    const { store, reused } = await FileChunkStore.open(path, 8192, 4096, true);
    try {
      expect(reused).toBe(true);
      expect((await store.read(1, 4096)).equals(Buffer.alloc(4096, 3))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
