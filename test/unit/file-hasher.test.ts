import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BufferPool } from "../../peer/download/buffer-pool.js";
import { FileHasher } from "../../peer/download/file-hasher.js";
import { HashWorker } from "../../peer/download/hash-worker.js";
import { FileChunkStore } from "../../peer/storage/chunk-store.js";

/**
 * The whole file's SHA-1 from chunks that arrive in any order, on the real hash thread: held chunks are
 * hashed from their buffers, the overflow read back from a real partial file (with direct I/O where the
 * file system allows it, as in a download).
 */

const CHUNK = 64 * 1024;
const COUNT = 40;
let dir: string;
let partPath: string;
let content: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-file-hasher-"));
  partPath = join(dir, "part");
  content = randomBytes(CHUNK * (COUNT - 1) + 1234);
  await writeFile(partPath, content);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lengthOf = (index: number): number => Math.min(CHUNK, content.length - index * CHUNK);

/** Delivers the chunks in `order` as the downloader does: offer, write, advance; buffers back when released. */
async function run(order: number[], maxHeld: number): Promise<{ digest: string; held: number; mostHeldAtOnce: number; readBacks: number }> {
  const pool = new BufferPool(CHUNK, maxHeld + 3);
  const worker = new HashWorker(pool.memory, CHUNK);
  const written = new Uint8Array(COUNT);
  const { store } = await FileChunkStore.open(partPath, content.length, CHUNK, true);
  let readBacks = 0;
  const readBack = (index: number, target: Buffer, length: number): Promise<void> => {
    readBacks++;
    return store.readInto(index, target, length);
  };
  const hasher = new FileHasher(COUNT, lengthOf, (i) => written[i] === 1, worker, readBack, pool.take(), maxHeld);
  let held = 0;
  let heldNow = 0;
  let mostHeldAtOnce = 0;
  const deliveries: Array<Promise<void>> = [];
  try {
    for (const index of order) {
      // Buffers come back on the hash thread's replies (macrotasks): wait a tick, not a microtask.
      while (pool.available === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      const buffer = pool.take();
      content.copy(buffer.buffer, 0, index * CHUNK, index * CHUNK + lengthOf(index));
      let settled = false;
      const hashed = hasher.offer(index, buffer.slot).then(() => {
        settled = true;
      });
      await Promise.resolve();
      if (!settled) {
        held++;
        mostHeldAtOnce = Math.max(mostHeldAtOnce, ++heldNow);
        void hashed.then(() => heldNow--);
      }
      written[index] = 1;
      const delivery = hasher
        .advance()
        .then(() => hashed)
        .then(() => pool.give(buffer));
      deliveries.push(delivery);
    }
    await Promise.all(deliveries);
    await hasher.advance();
    expect(hasher.complete).toBe(true);
    return { digest: await hasher.digest(), held, mostHeldAtOnce, readBacks };
  } finally {
    await store.close();
    await worker.close();
  }
}

describe("FileHasher", () => {
  const expected = (): string => createHash("sha1").update(content).digest("hex");

  it("hashes chunks delivered in order", async () => {
    const order = Array.from({ length: COUNT }, (_, i) => i);
    expect((await run(order, 4)).digest).toBe(expected());
  });

  it("holds early chunks and hashes them from memory when their turn comes", async () => {
    // Pairs swapped: each early chunk is held until its predecessor arrives.
    const order = Array.from({ length: COUNT }, (_, i) => (i % 2 === 0 ? i + 1 : i - 1));
    const result = await run(order, 4);
    expect(result.digest).toBe(expected());
    expect(result.held).toBeGreaterThan(0);
  });

  it("reads back what it cannot hold, and never holds more than its limit", async () => {
    // The first chunk last: everything else is early, far more than the limit.
    const order = [...Array.from({ length: COUNT - 1 }, (_, i) => i + 1), 0];
    const result = await run(order, 3);
    expect(result.digest).toBe(expected());
    expect(result.held).toBeGreaterThan(0);
    // Three early chunks, and the one whose turn it is while it is being hashed.
    expect(result.mostHeldAtOnce).toBeLessThanOrEqual(3 + 1);
  });

  it("holds chunks that only wait in line behind one being read back", async () => {
    // 1-3 are held, 4 and 5 are early past the limit and read back; once 0 arrives nothing is missing, and
    // everything after 5 waits only for the hash thread: held, never read back (no cascade of read-backs).
    const order = [1, 2, 3, 4, 5, 0, ...Array.from({ length: COUNT - 6 }, (_, i) => i + 6)];
    const result = await run(order, 3);
    expect(result.digest).toBe(expected());
    expect(result.readBacks).toBe(2);
  });

  it("lets every held buffer go on release", async () => {
    const pool = new BufferPool(CHUNK, 4);
    const worker = new HashWorker(pool.memory, CHUNK);
    try {
      const readBack = (): Promise<void> => Promise.reject(new Error("nothing is written"));
      const hasher = new FileHasher(COUNT, lengthOf, () => false, worker, readBack, pool.take(), 3);
      const held = [1, 2, 3].map((index) => hasher.offer(index, pool.take().slot));
      let done = 0;
      for (const h of held) void h.then(() => done++);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(done).toBe(0);
      hasher.release();
      await Promise.all(held);
      expect(done).toBe(3);
    } finally {
      await worker.close();
    }
  });
});
