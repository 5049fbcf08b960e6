import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeShare } from "../../peer/daemon/make-share.js";
import type { Manifest } from "../../peer/manifest/manifest.js";
import { OneSocketAgent } from "../../peer/connect/one-socket-agent.js";
import { createPublicServer } from "../../peer/server/public-server.js";
import type { Share } from "../../peer/state/share-registry.js";
import { randomFile, tempDir } from "../helpers/files.js";
import { closedSocket, DOWNLOADER_IP, get, RELAY_IP, relayPair, startRelay, type RelayHost } from "../helpers/relay.js";

/**
 * A real public server, serving a real file, reached only through a relay: the sharer's socket comes from
 * relayConnect(accept), the downloader's from relayConnect(connect). What passes is the peer API, byte for
 * byte; anything else is answered by the relay and never reaches the sharer.
 */

let dir: Awaited<ReturnType<typeof tempDir>>;
let share: Share;
let bytes: Buffer;
const SIZE = 2 * 1024 * 1024 + 12_345;

beforeAll(async () => {
  dir = await tempDir("relay");
  const path = join(dir.path, "shared.bin");
  await randomFile(path, SIZE);
  share = await makeShare(path);
  bytes = await readFile(path);
});

afterAll(async () => {
  await dir.remove();
});

let host: RelayHost | undefined;
let sharerServer: Server | undefined;
let agent: OneSocketAgent | undefined;
/** Every path the sharer's public server was asked for. */
let seen: string[] = [];
const sockets = new Set<Socket>();

afterEach(async () => {
  agent?.destroy();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await host?.close();
  sharerServer?.closeAllConnections();
  sharerServer?.emit("close");
  host = sharerServer = agent = undefined;
  seen = [];
});

async function setUp(): Promise<{ downloader: Socket; agent: OneSocketAgent }> {
  host = await startRelay();
  const server = createPublicServer({ lookup: (sha1) => (sha1 === share.sha1 ? share : undefined) });
  server.on("request", (req: { url?: string }) => seen.push(req.url ?? ""));
  sharerServer = server;
  const downloader = await relayPair(host, (socket) => server.emit("connection", socket), sockets);
  agent = new OneSocketAgent(downloader);
  return { downloader, agent };
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

describe("a relay carries the peer API", () => {
  it("serves the manifest and every chunk over one relayed socket, bytes identical and their SHA-256 as the manifest says", async () => {
    const { agent } = await setUp();
    const manifestAnswer = await get(agent, `/v1/files/${share.sha1}/manifest`);
    expect(manifestAnswer.status).toBe(200);
    const manifest = JSON.parse(manifestAnswer.body.toString("utf8")) as Manifest;
    expect(manifest.sha1).toBe(share.sha1);
    expect(manifest.chunks).toHaveLength(3);
    const parts: Buffer[] = [];
    for (let i = 0; i < manifest.chunks.length; i++) {
      const chunk = await get(agent, `/v1/files/${share.sha1}/chunks/${i}`);
      expect(chunk.status).toBe(200);
      expect(Number(chunk.headers["content-length"])).toBe(chunk.body.length);
      expect(sha256(chunk.body)).toBe(manifest.chunks[i]);
      parts.push(chunk.body);
    }
    expect(Buffer.compare(Buffer.concat(parts), bytes)).toBe(0);
    const have = await get(agent, `/v1/files/${share.sha1}/have`);
    expect(JSON.parse(have.body.toString("utf8"))).toEqual({ complete: true, chunks: 3 });
    const head = await get(agent, `/v1/files/${share.sha1}/chunks/2`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(SIZE - 2 * 1024 * 1024));
    const range = await get(agent, `/v1/files/${share.sha1}`, { headers: { Range: "bytes=100-199" } });
    expect(range.status).toBe(206);
    expect(range.headers["content-range"]).toBe(`bytes 100-199/${SIZE}`);
    expect(Buffer.compare(range.body, bytes.subarray(100, 200))).toBe(0);
    expect(seen).toHaveLength(7);
    expect(host!.relay.counters()).toMatchObject({ pairs: 1, pairsTotal: 1, waiting: 0 });
    expect(host!.relay.counters().bytes).toBeGreaterThan(SIZE);
  });

  it("passes a sharer's refusal on as it is (404 for a file not shared there)", async () => {
    const { agent } = await setUp();
    const answer = await get(agent, `/v1/files/${"0".repeat(40)}/manifest`);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString("utf8"))).toMatchObject({ error: { code: "not_shared" } });
    expect(seen).toHaveLength(1);
  });
});
