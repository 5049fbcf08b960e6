import { Worker } from "node:worker_threads";

/**
 * Hashing on a second thread, over buffers in shared memory (no copies): each chunk's SHA-256 for
 * verification, and the whole file's SHA-1, fed in order from shared buffers (file-hasher.ts). The main
 * thread keeps the network and the disk; on two cores the two overlap.
 * Messages are handled in the order sent, each answered by id.
 */

const source = `
// Starting a worker resets V8's flags to their defaults, so this one sets again what bin/p2p.js set
// (a young generation that does not grow; flags are per process).
require("node:v8").setFlagsFromString("--semi-space-growth-factor=1");
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const shared = Buffer.from(workerData.memory);
const slotSize = workerData.slotSize;
const sha1 = createHash("sha1");
parentPort.on("message", (m) => {
  try {
    if (m.op === "sha256") {
      const view = shared.subarray(m.slot * slotSize, m.slot * slotSize + m.length);
      parentPort.postMessage({ id: m.id, value: createHash("sha256").update(view).digest("hex") });
    } else if (m.op === "sha1") {
      sha1.update(shared.subarray(m.slot * slotSize, m.slot * slotSize + m.length));
      parentPort.postMessage({ id: m.id });
    } else if (m.op === "sha1-digest") {
      parentPort.postMessage({ id: m.id, value: sha1.digest("hex") });
    }
  } catch (error) {
    parentPort.postMessage({ id: m.id, error: String(error && error.message || error) });
  }
});
`;

interface Reply {
  id: number;
  value?: string;
  error?: string;
}

export class HashWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: string) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private closed = false;

  constructor(memory: SharedArrayBuffer, slotSize: number) {
    this.worker = new Worker(source, { eval: true, workerData: { memory, slotSize } });
    this.worker.unref();
    this.worker.on("message", (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.value ?? "");
    });
    this.worker.on("error", (error) => this.failAll(error));
  }

  sha256(slot: number, length: number): Promise<string> {
    return this.send({ op: "sha256", slot, length });
  }

  sha1Update(slot: number, length: number): Promise<string> {
    return this.send({ op: "sha1", slot, length });
  }

  sha1Digest(): Promise<string> {
    return this.send({ op: "sha1-digest" });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error("hash worker closed"));
    await this.worker.terminate();
  }

  private send(message: Record<string, unknown>): Promise<string> {
    if (this.closed) return Promise.reject(new Error("hash worker closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
