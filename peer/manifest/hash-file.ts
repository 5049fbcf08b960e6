import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { basename } from "node:path";
import { Worker } from "node:worker_threads";
import { CHUNK_SIZE } from "../../common/constants.js";
import { fromFsError } from "../errors.js";
import { readFully } from "../storage/read-fully.js";
import { chunkCount, type Manifest } from "./manifest.js";

/**
 * Builds a file's manifest in one read: the SHA-1 of the whole file on this thread and the SHA-256 of each
 * chunk on a second one, both over the same shared buffers, so that the two hashes run side by side.
 * Small files are hashed on this thread alone: a worker costs more to start than they take.
 */

export interface HashedFile {
  manifest: Manifest;
  /** The file's identity when it was hashed: a change of any of these means it must be hashed again. */
  stat: { size: number; mtimeMs: number; dev: number; ino: number };
}

const SLOTS = 4;
const WORKER_THRESHOLD = 8 * CHUNK_SIZE;

const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const shared = Buffer.from(workerData);
parentPort.on("message", ({ slot, length, index }) => {
  const view = shared.subarray(slot * ${CHUNK_SIZE}, slot * ${CHUNK_SIZE} + length);
  parentPort.postMessage({ slot, index, digest: createHash("sha256").update(view).digest("hex") });
});
`;

export async function hashFile(path: string, onProgress?: (bytes: number) => void): Promise<HashedFile> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw fromFsError(error, path, "opening it");
  }
  try {
    const before = await handle.stat();
    if (!before.isFile()) throw fromFsError(Object.assign(new Error("not a file"), { code: "EISDIR" }), path, "reading it");
    const size = before.size;
    const count = chunkCount(size, CHUNK_SIZE);
    const sha1 = createHash("sha1");
    const chunks: string[] = new Array<string>(count);
    try {
      const job: HashJob = { handle, count, size, sha1, chunks, onProgress };
      if (size < WORKER_THRESHOLD) await hashInline(job);
      else await hashWithWorker(job);
    } catch (error) {
      throw fromFsError(error, path, "reading it");
    }
    const after = await handle.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw fromFsError(new Error("the file changed while it was being hashed; share it again when it is stable"), path, "hashing it");
    }
    return {
      manifest: { version: 1, name: basename(path), size, chunkSize: CHUNK_SIZE, sha1: sha1.digest("hex"), chunks },
      stat: { size, mtimeMs: before.mtimeMs, dev: before.dev, ino: before.ino },
    };
  } finally {
    await handle.close();
  }
}

async function readExactly(handle: FileHandle, buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
  if ((await readFully(handle, buffer, offset, length, position)) < length) throw new Error("the file became shorter while it was being hashed");
}

/** What both hashing paths share: the open file, its shape, and where the results go. */
interface HashJob {
  handle: FileHandle;
  count: number;
  size: number;
  sha1: ReturnType<typeof createHash>;
  chunks: string[];
  onProgress: ((bytes: number) => void) | undefined;
}

async function hashInline({ handle, count, size, sha1, chunks, onProgress }: HashJob): Promise<void> {
  const buffer = Buffer.allocUnsafe(CHUNK_SIZE);
  for (let index = 0; index < count; index++) {
    const length = Math.min(CHUNK_SIZE, size - index * CHUNK_SIZE);
    await readExactly(handle, buffer, 0, length, index * CHUNK_SIZE);
    const view = buffer.subarray(0, length);
    sha1.update(view);
    chunks[index] = createHash("sha256").update(view).digest("hex");
    onProgress?.(index * CHUNK_SIZE + length);
  }
}

async function hashWithWorker({ handle, count, size, sha1, chunks, onProgress }: HashJob): Promise<void> {
  const shared = new SharedArrayBuffer(SLOTS * CHUNK_SIZE);
  const buffers = Buffer.from(shared);
  const worker = new Worker(workerSource, { eval: true, workerData: shared });
  const slotFree: Array<() => void> = [];
  const slotBusy = new Array<Promise<void>>(SLOTS).fill(Promise.resolve());
  const state: { failure: Error | null } = { failure: null };
  worker.on("error", (error) => {
    state.failure = error;
    // Release every waiter, so that the loop sees the failure instead of waiting for ever.
    for (const free of slotFree) free?.();
  });
  worker.on("message", ({ slot, index, digest }: { slot: number; index: number; digest: string }) => {
    chunks[index] = digest;
    slotFree[slot]?.();
  });
  try {
    for (let index = 0; index < count; index++) {
      const slot = index % SLOTS;
      // The slot is reused only once the worker has hashed what it held.
      await slotBusy[slot];
      if (state.failure !== null) throw state.failure;
      const length = Math.min(CHUNK_SIZE, size - index * CHUNK_SIZE);
      await readExactly(handle, buffers, slot * CHUNK_SIZE, length, index * CHUNK_SIZE);
      slotBusy[slot] = new Promise<void>((resolve) => {
        slotFree[slot] = resolve;
      });
      worker.postMessage({ slot, length, index });
      sha1.update(buffers.subarray(slot * CHUNK_SIZE, slot * CHUNK_SIZE + length));
      onProgress?.(index * CHUNK_SIZE + length);
    }
    await Promise.all(slotBusy);
    if (state.failure !== null) throw state.failure;
  } finally {
    await worker.terminate();
  }
}
