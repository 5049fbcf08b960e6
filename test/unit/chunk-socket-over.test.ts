import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ChunkSocket } from "../../peer/download/chunk-socket.js";
import { answerEachRequest } from "../helpers/raw-peer.js";
import { RateLimiter } from "../../peer/net/rate-limiter.js";

/** ChunkSocket over a socket connected already (a reversed or punched one): the same answers, the same verdicts. */
let server: Server | undefined;
const sockets: Socket[] = [];

async function connected(answer: (requestNumber: number) => Buffer | null): Promise<Socket> {
  server = createServer((socket) => {
    sockets.push(socket);
    answerEachRequest(socket, answer);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.90.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  const socket = connect({ host: "127.0.90.1", port, localAddress: "127.0.90.2" });
  sockets.push(socket);
  await new Promise((resolve) => socket.once("connect", resolve));
  return socket;
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const limits = { idleMs: 2000, deadlineMs: 5000 };
const ok = (body: Buffer): Buffer => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);

describe("ChunkSocket.over a connected socket", () => {
  it("reads many bodies into the caller's buffer, counting every byte", async () => {
    const bodies = [randomBytes(1024 * 1024), randomBytes(5), randomBytes(300_000)];
    let read = 0;
    const chunks = ChunkSocket.over(await connected((n) => ok(bodies[n]!)), "x", { onRead: (bytes) => (read += bytes) });
    const target = Buffer.alloc(1024 * 1024);
    for (const body of bodies) {
      const got = await chunks.fetch("/x", target, body.length, limits);
      expect(got.buffer).toBe(target.buffer);
      expect(got.equals(body)).toBe(true);
    }
    expect(read).toBeGreaterThan(bodies.reduce((sum, b) => sum + b.length, 0));
    chunks.destroy();
  });

  it.each([
    ["a longer Content-Length", () => ok(Buffer.alloc(11)), "lie"],
    ["bytes past the body", () => Buffer.concat([ok(Buffer.alloc(10)), Buffer.from("junk")]), "lie"],
    ["a 503", () => Buffer.from("HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n"), "network"],
    ["garbage", () => Buffer.from("hello there\r\n\r\n"), "protocol"],
    ["headers past 16 KiB", () => Buffer.from(`HTTP/1.1 200 OK\r\nX: ${"y".repeat(20_000)}\r\n\r\n`), "protocol"],
    ["a reset", () => null, "network"],
  ] as Array<[string, () => Buffer | null, string]>)("fails on %s and is not reused", async (_name, reply, kind) => {
    const chunks = ChunkSocket.over(await connected(() => reply()), "x");
    await expect(chunks.fetch("/x", Buffer.alloc(64), 10, limits)).rejects.toMatchObject({ kind });
    expect(chunks.idle).toBe(false);
  });

  it("gives up on a stall and on its deadline", async () => {
    const stalled = ChunkSocket.over(await connected(() => Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")), "x");
    await expect(stalled.fetch("/x", Buffer.alloc(10), 10, { idleMs: 200, deadlineMs: 5000 })).rejects.toThrow("stalled");
  });

  it("paces reads under a download limit", async () => {
    const body = randomBytes(1024 * 1024);
    const chunks = ChunkSocket.over(await connected(() => ok(body)), "x", { limiter: new RateLimiter(1024 * 1024) });
    const started = Date.now();
    const got = await chunks.fetch("/x", Buffer.alloc(body.length), body.length, limits);
    expect(got.equals(body)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(300);
    chunks.destroy();
  });
});
