import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { PeerConnection } from "../../peer/download/peer-http.js";
import { freePort } from "../helpers/tracker.js";

const limits = { idleMs: 2000, deadlineMs: 5000 };

describe("PeerConnection fallback to a peer's other address", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((done) => (server === undefined ? done() : server.close(() => done()))));

  async function serve(): Promise<number> {
    server = createServer((req, res) => res.end(req.url === "/small" ? "hello" : Buffer.alloc(4, 7)));
    await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
    const address = server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  it("uses the alternate when the first address refuses before any connection, and keeps it", async () => {
    const open = await serve();
    const closed = await freePort();
    const peer = new PeerConnection({ ip: "127.0.0.1", port: closed }, undefined, {}, [{ ip: "127.0.0.1", port: open }]);
    try {
      expect((await peer.small("/small", limits, 100)).toString()).toBe("hello");
      expect(peer.address).toEqual({ ip: "127.0.0.1", port: open });
      expect(peer.key).toBe(`127.0.0.1:${closed}`);
      const chunk = peer.chunk("/chunk", Buffer.alloc(4), 4, limits);
      expect([...(await chunk.done)]).toEqual([7, 7, 7, 7]);
    } finally {
      peer.close();
    }
  });

  it("falls back for a chunk too, and fails as before with no alternate", async () => {
    const open = await serve();
    const closed = await freePort();
    const peer = new PeerConnection({ ip: "127.0.0.1", port: closed }, undefined, {}, [{ ip: "127.0.0.1", port: open }]);
    const lone = new PeerConnection({ ip: "127.0.0.1", port: closed });
    try {
      expect([...(await peer.chunk("/chunk", Buffer.alloc(4), 4, limits).done)]).toEqual([7, 7, 7, 7]);
      await expect(lone.small("/small", limits, 100)).rejects.toMatchObject({ kind: "network" });
      await expect(lone.chunk("/chunk", Buffer.alloc(4), 4, limits).done).rejects.toMatchObject({ kind: "network" });
    } finally {
      peer.close();
      lone.close();
    }
  });
});
