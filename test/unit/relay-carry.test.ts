import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeShare } from "../../peer/daemon/make-share.js";
import type { Manifest } from "../../peer/manifest/manifest.js";
import { OneSocketAgent } from "../../peer/connect/one-socket-agent.js";
import { relayConnect } from "../../peer/connect/relay-client.js";
import type { RelayOptions } from "../../peer/connect/relay-server.js";
import { createPublicServer } from "../../peer/server/public-server.js";
import type { Share } from "../../peer/state/share-registry.js";
import { randomFile, tempDir } from "../helpers/files.js";
import { closedSocket, DOWNLOADER_IP, exchange, get, RELAY_IP, relayPair, SHARER_IP, startRelay, token, until, type RelayHost } from "../helpers/relay.js";

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

async function setUp(options: Partial<RelayOptions> = {}): Promise<{ downloader: Socket; agent: OneSocketAgent }> {
  host = await startRelay(options);
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

describe("a relay carries nothing else", () => {
  const sha1 = (): string => share.sha1;
  it.each([
    ["a POST", () => `POST /v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`, true],
    ["a PUT without a body", () => `PUT /v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: x\r\n\r\n`, false],
    ["a path outside the API", () => `GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n`, false],
    ["a dot segment", () => `GET /v1/files/${sha1()}/../../status HTTP/1.1\r\nHost: x\r\n\r\n`, false],
    ["a query other than since on /have", () => `GET /v1/files/${sha1()}/manifest?x=1 HTTP/1.1\r\nHost: x\r\n\r\n`, false],
    ["an absolute URL", () => `GET http://127.0.0.1:5002/v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, false],
    ["a GET with a body", () => `GET /v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, true],
  ])("answers %s with 403 itself, the sharer asked nothing", async (_name, request, closes) => {
    const { downloader } = await setUp();
    const answer = await exchange(downloader, request());
    expect(answer?.status).toBe(403);
    expect(answer?.text).toContain("not_relayed");
    expect(seen).toEqual([]);
    if (closes) {
      await closedSocket(downloader);
      return;
    }
    // The pair goes on: the next proper request is carried.
    const manifest = await exchange(downloader, `GET /v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(manifest?.status).toBe(200);
    expect(seen).toEqual([`/v1/files/${sha1()}/manifest`]);
  });

  it.each([
    ["a CONNECT", () => `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`, 403],
    ["an upgrade through the pair", () => `GET /v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, 403],
    ["an oversize head", () => `GET /v1/files/${sha1()}/manifest HTTP/1.1\r\nHost: x\r\nX-Pad: ${"a".repeat(20_000)}\r\n\r\n`, 400],
    ["bytes that are not HTTP", () => "\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003\r\n\r\n", 400],
  ])("refuses %s and closes the pair, the sharer asked nothing", async (_name, request, status) => {
    const { downloader } = await setUp();
    const answer = await exchange(downloader, request());
    expect(answer?.status).toBe(status);
    await closedSocket(downloader);
    await until(() => host!.relay.counters().pairs === 0);
    expect(seen).toEqual([]);
    expect(host!.relay.counters().refused).toBeGreaterThanOrEqual(1);
  });

  it("closes the downloader's side when the sharer's closes, after the answers already given", async () => {
    const { downloader, agent } = await setUp();
    expect((await get(agent, `/v1/files/${share.sha1}/chunks/0`)).status).toBe(200);
    // The sharer's public server ends the connection itself (its keep-alive limit), as it would when idle.
    const sharerSocket = [...sockets].find((socket) => socket !== downloader)!;
    sharerSocket.end();
    await closedSocket(downloader);
    expect(host!.relay.counters().pairs).toBe(0);
  });

  it("closes the sharer's side when the downloader leaves in the middle of a chunk", async () => {
    let sharerSocket: Socket | undefined;
    host = await startRelay();
    const server = createPublicServer({ lookup: (sha1) => (sha1 === share.sha1 ? share : undefined) });
    sharerServer = server;
    const downloader = await relayPair(host, (socket) => {
      sharerSocket = socket;
      server.emit("connection", socket);
    }, sockets);
    downloader.once("data", () => downloader.destroy());
    downloader.write(`GET /v1/files/${share.sha1}/chunks/0 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await closedSocket(sharerSocket!);
    expect(host.relay.counters().pairs).toBe(0);
  });
});

describe("a relayed socket's life", () => {
  it("passes on bytes a peer sent right behind its upgrade request, before its 101", async () => {
    host = await startRelay();
    const server = createPublicServer({ lookup: (sha1) => (sha1 === share.sha1 ? share : undefined) });
    server.on("request", (req: { url?: string }) => seen.push(req.url ?? ""));
    sharerServer = server;
    const secret = await token();
    const downloader = connect({ host: RELAY_IP, port: host.port, localAddress: DOWNLOADER_IP });
    sockets.add(downloader);
    await new Promise((resolve) => downloader.once("connect", resolve));
    let text = "";
    downloader.on("data", (data: Buffer) => (text += data.toString("latin1")));
    downloader.write(
      `GET /v1/relay HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: p2p-relay/1\r\nP2P-Relay-Token: ${secret}\r\nP2P-Relay-Role: connect\r\n\r\n` +
        `GET /v1/files/${share.sha1}/have HTTP/1.1\r\nHost: relay\r\n\r\n`,
    );
    await until(() => host!.relay.counters().waiting === 1);
    const sharerSocket = await relayConnect({ ip: RELAY_IP, port: host.port, token: secret, role: "accept", localAddress: SHARER_IP });
    sockets.add(sharerSocket);
    server.emit("connection", sharerSocket);
    await until(() => text.endsWith('{"complete":true,"chunks":3}'));
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(seen).toEqual([`/v1/files/${share.sha1}/have`]);
  });

  it("closes a pair whose downloader stays silent past the idle limit", async () => {
    const { downloader } = await setUp({ idleMs: 200 });
    const started = Date.now();
    await closedSocket(downloader);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(host!.relay.counters().pairs).toBe(0);
  });

  it("closes a pair whose downloader piles up more requests than it may have waiting", async () => {
    const lines: string[] = [];
    const { downloader } = await setUp({ log: (line) => lines.push(line) });
    downloader.on("data", () => undefined);
    downloader.write(`GET /v1/files/${share.sha1}/chunks/0 HTTP/1.1\r\nHost: relay\r\n\r\n`.repeat(20));
    await closedSocket(downloader);
    await until(() => lines.length === 1);
    expect(lines[0]).toMatch(/too many requests at once/);
    expect(seen.length).toBeLessThan(20);
  });
});
