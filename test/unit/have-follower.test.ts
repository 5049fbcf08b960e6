import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HaveFollower, type HaveUpdate } from "../../peer/download/have-follower.js";
import { PeerConnection } from "../../peer/download/peer-http.js";

const SHA1 = "3f786850e387550fdab836ed7e6dc881de23001b";
const CHUNKS = 8;
const BITFIELD = { complete: false, chunks: CHUNKS, seq: 1, bitfield: Buffer.from([0x80]).toString("base64") };

/** A peer's public port answering `/have` as `answer` says: every request is counted by its query. */
async function fakePeer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url?.split("?")[1] ?? "");
    if (!(req.url ?? "").includes("since=")) {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify(BITFIELD));
      return;
    }
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, asked };
}

const servers: Server[] = [];
const followers: HaveFollower[] = [];
const connections: PeerConnection[] = [];
afterEach(async () => {
  for (const follower of followers.splice(0)) follower.close();
  for (const connection of connections.splice(0)) connection.close();
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  })));
});

function follow(port: number, updates: HaveUpdate[], silent: string[] = []): HaveFollower {
  const connection = new PeerConnection({ ip: "127.0.0.1", port });
  connections.push(connection);
  const follower = new HaveFollower(SHA1, CHUNKS, () => connection, (_key, update) => updates.push(update), (key) => silent.push(key));
  followers.push(follower);
  follower.follow("peer");
  return follower;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("HaveFollower", () => {
  it("reads each event of a stream as it comes, on one request", async () => {
    const peer = await fakePeer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(`data: ${JSON.stringify({ complete: false, chunks: CHUNKS, seq: 2, added: [3] })}\n\n`);
      setTimeout(() => res.write(`data: ${JSON.stringify({ complete: false, chunks: CHUNKS, seq: 3, added: [5] })}\n\n`), 50);
    });
    servers.push(peer.server);
    const updates: HaveUpdate[] = [];
    follow(peer.port, updates);
    await pause(400);
    expect(updates).toEqual([{ kind: "bitfield", bits: new Uint8Array([0x80]) }, { kind: "added", indices: [3] }, { kind: "added", indices: [5] }]);
    expect(peer.asked).toEqual(["", "since=1&stream=1"]);
  });

  it("asks again after a pause, and stops after a few, when a stream ends at once with nothing in it", async () => {
    const peer = await fakePeer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.end(": idle\n\n");
    });
    servers.push(peer.server);
    const silent: string[] = [];
    follow(peer.port, [], silent);
    await pause(2500);
    // The bitfield, then three empty streams 0.5 s and 1 s apart; not thousands.
    expect(peer.asked.length).toBe(4);
    expect(silent).toEqual([]);
  });

  it("follows with long-polls a peer whose streams are refused (403), and reads a plain JSON answer as one event", async () => {
    const peer = await fakePeer((req, res) => {
      if ((req.url ?? "").includes("stream=1")) {
        res.statusCode = 403;
        res.end();
        return;
      }
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ complete: true, chunks: CHUNKS }));
    });
    servers.push(peer.server);
    const updates: HaveUpdate[] = [];
    follow(peer.port, updates);
    await pause(400);
    expect(peer.asked).toEqual(["", "since=1&stream=1", "since=1"]);
    expect(updates.at(-1)).toEqual({ kind: "complete" });
  });
});
