import { appendFile, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeShare } from "../../peer/daemon/make-share.js";
import { P2PError } from "../../peer/errors.js";
import { OpenFiles } from "../../peer/server/open-files.js";

/** The public server's open descriptors, on real files: shared while fresh, rechecked, and closed. */

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-open-files-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A close runs on the I/O pool: wait for it (a FileHandle's fd is -1 once closed), at most 5 s. */
async function closed(handle: { fd: number }): Promise<boolean> {
  for (let waited = 0; handle.fd !== -1 && waited < 5000; waited += 10) await sleep(10);
  return handle.fd === -1;
}

async function shared(name: string): Promise<Awaited<ReturnType<typeof makeShare>>> {
  const path = join(dir, name);
  await writeFile(path, `contents of ${name}`);
  return makeShare(path);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error: unknown = await promise.then(() => null, (e: unknown) => e);
  return error instanceof P2PError ? error.code : String(error);
}

describe("OpenFiles", () => {
  it("shares one descriptor among requests while it is fresh, and closes it once past its time and free", async () => {
    const files = new OpenFiles(80);
    const share = await shared("a.bin");
    const first = await files.acquire(share);
    const second = await files.acquire(share);
    expect(second.handle).toBe(first.handle);
    first.release();
    second.release();
    // Expired and held by nobody: closed.
    expect(await closed(first.handle)).toBe(true);
    const third = await files.acquire(share);
    expect(third.handle).not.toBe(first.handle);
    third.release();
    files.closeAll();
    expect(await closed(third.handle)).toBe(true);
  });

  it("keeps a descriptor open past its time while a request still reads from it", async () => {
    const files = new OpenFiles(30);
    const share = await shared("b.bin");
    const lease = await files.acquire(share);
    await sleep(80);
    expect(lease.handle.fd).toBeGreaterThan(-1);
    lease.release();
    expect(await closed(lease.handle)).toBe(true);
  });

  it("refuses a file edited in place at once, though its descriptor is open", async () => {
    const files = new OpenFiles(60_000);
    const share = await shared("c.bin");
    (await files.acquire(share)).release();
    await appendFile(share.path, "more");
    expect(await refusal(files.acquire(share))).toBe("FILE_CHANGED");
    files.closeAll();
  });

  it("notices a path that now names another file when it opens the file again", async () => {
    const files = new OpenFiles(50);
    const share = await shared("d.bin");
    (await files.acquire(share)).release();
    const other = join(dir, "d.new");
    await writeFile(other, "contents of d.bin");
    await rename(other, share.path);
    await sleep(100);
    expect(await refusal(files.acquire(share))).toBe("FILE_CHANGED");
    files.closeAll();
  });
});
