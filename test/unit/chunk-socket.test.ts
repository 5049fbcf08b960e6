import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ChunkSocket } from "../../peer/download/chunk-socket.js";
import { answerEachRequest } from "../helpers/raw-peer.js";
import { PeerFault } from "../../peer/download/peer-fault.js";

/** A raw TCP server that answers each request with whatever bytes the test gives it. */
let server: Server | undefined;
let connections = 0;

async function serve(answer: (requestNumber: number) => Buffer | null): Promise<number> {
  connections = 0;
  server = createServer((socket) => {
    connections++;
    answerEachRequest(socket, answer);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const limits = { idleMs: 2000, deadlineMs: 5000 };
const ok = (body: Buffer, extra = ""): Buffer => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n`), body]);

describe("ChunkSocket", () => {
  it("reads many bodies, large and small, into the caller's buffer over one connection", async () => {
    const bodies = [randomBytes(1024 * 1024), randomBytes(5), randomBytes(300_000), randomBytes(1024 * 1024)];
    const port = await serve((n) => ok(bodies[n]!));
    const socket = new ChunkSocket("127.0.0.1", port, `127.0.0.1:${port}`);
    const target = Buffer.alloc(1024 * 1024);
    for (const body of bodies) {
      const got = await socket.fetch("/x", target, body.length, limits);
      expect(got.buffer).toBe(target.buffer);
      expect(Buffer.compare(got, body)).toBe(0);
      expect(socket.idle).toBe(true);
    }
    expect(connections).toBe(1);
    socket.destroy();
  });

  it.each([
    ["a longer Content-Length", () => ok(Buffer.alloc(11)), "promised 11", "lie"],
    ["a shorter Content-Length", () => ok(Buffer.alloc(9)), "promised 9", "lie"],
    ["no Content-Length", () => Buffer.from("HTTP/1.1 200 OK\r\n\r\n0123456789"), "promised no length", "lie"],
    ["chunked encoding", () => Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"), "chunked", "protocol"],
    ["a 404", () => Buffer.from("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), "HTTP 404", "network"],
    ["a 503", () => Buffer.from("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"), "HTTP 503", "network"],
    ["a 302", () => Buffer.from("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"), "HTTP 302", "protocol"],
    ["bytes past the body", () => Buffer.concat([ok(Buffer.alloc(10)), Buffer.from("junk")]), "sent more than 10 bytes", "lie"],
    ["garbage", () => Buffer.from("hello there\r\n\r\n"), "not an HTTP response", "protocol"],
    ["a reset", () => null, "closed", "network"],
  ] as Array<[string, () => Buffer | null, string, PeerFault["kind"]]>)("fails on %s and is not reused", async (_name, reply, message, kind) => {
    const port = await serve(() => reply());
    const socket = new ChunkSocket("127.0.0.1", port, `127.0.0.1:${port}`);
    const attempt = socket.fetch("/x", Buffer.alloc(64), 10, limits);
    await expect(attempt).rejects.toThrow(message);
    await expect(attempt).rejects.toMatchObject({ kind });
    await expect(attempt).rejects.toBeInstanceOf(PeerFault);
    expect(socket.idle).toBe(false);
  });

  it("gives up on a peer that stalls mid-body", async () => {
    const port = await serve(() => Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"));
    const socket = new ChunkSocket("127.0.0.1", port, `127.0.0.1:${port}`);
    const started = Date.now();
    await expect(socket.fetch("/x", Buffer.alloc(10), 10, { idleMs: 300, deadlineMs: 5000 })).rejects.toThrow("stalled");
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
