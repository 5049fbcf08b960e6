import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { OneSocketAgent } from "../../peer/connect/one-socket-agent.js";
import { relayConnect } from "../../peer/connect/relay-client.js";
import { RelayError } from "../../peer/connect/relay-errors.js";
import type { RelayOptions } from "../../peer/connect/relay-server.js";
import { mintRelayToken, relayTokenKey } from "../../common/relay-token.js";
import { closedSocket, DOWNLOADER_IP, get, RELAY_IP, RELAY_TOKEN_KEY, relayPair, SHARER_IP, startRelay, STRANGER_IP, token, until, type RelayHost } from "../helpers/relay.js";

/**
 * Who the relay turns away at the door (a bad, spent or stranger's token, a role already there, a full relay)
 * and how it ends pairs that reach a cap. The sharer here is a plain HTTP server that serves 1 MiB for any
 * chunk and counts what it is asked: a refused peer must never reach it.
 */

const FILE = "a".repeat(40);
const CHUNK = randomBytes(1024 * 1024);

let host: RelayHost | undefined;
let sharer: Server | undefined;
let asked = 0;
const sockets = new Set<Socket>();
const agents: OneSocketAgent[] = [];

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await host?.close();
  host = sharer = undefined;
  asked = 0;
});

async function setUp(options: Partial<RelayOptions> = {}): Promise<RelayHost> {
  host = await startRelay(options);
  sharer = createServer((req, res) => {
    asked++;
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": CHUNK.length });
    res.end(req.method === "HEAD" ? undefined : CHUNK);
  });
  return host;
}

function pair(secret?: string): Promise<Socket> {
  return relayPair(host!, (socket) => sharer!.emit("connection", socket), sockets, secret);
}

function dial(secret: string, role: "accept" | "connect", localAddress: string, timeoutMs = 5000): Promise<Socket> {
  return relayConnect({ ip: RELAY_IP, port: host!.port, token: secret, role, localAddress, timeoutMs }).then((socket) => {
    sockets.add(socket);
    return socket;
  });
}

async function refusal(promise: Promise<unknown>): Promise<RelayError> {
  const error: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof RelayError)) throw new Error(`expected a RelayError, got ${String(error)}`);
  return error;
}

/** A raw upgrade request with any headers, for what relayConnect would never send. */
function rawUpgrade(headers: string, method = "GET"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: RELAY_IP, port: host!.port, localAddress: STRANGER_IP });
    sockets.add(socket);
    let text = "";
    socket.on("data", (data: Buffer) => (text += data.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
    socket.write(`${method} /v1/relay HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: p2p-relay/1\r\n${headers}\r\n`);
  });
}

const chunkPath = `/v1/files/${FILE}/chunks/0`;

describe("the relay's door", () => {
  it("turns away a malformed token, a missing role and a POST at once, with 400", async () => {
    await setUp();
    expect(await rawUpgrade(`P2P-Relay-Token: ${"A".repeat(32)}\r\nP2P-Relay-Role: connect\r\n`)).toMatch(/^HTTP\/1\.1 400 [^]*bad_token/);
    expect(await rawUpgrade(`P2P-Relay-Token: ${await token()}\r\nP2P-Relay-Token: ${await token()}\r\nP2P-Relay-Role: connect\r\n`)).toMatch(/^HTTP\/1\.1 400 [^]*bad_token/);
    expect(await rawUpgrade(`P2P-Relay-Token: ${await token()}\r\n`)).toMatch(/^HTTP\/1\.1 400 [^]*bad_role/);
    expect(await rawUpgrade(`P2P-Relay-Token: ${await token()}\r\nP2P-Relay-Role: connect\r\nContent-Length: 0\r\n`, "POST")).toMatch(/^HTTP\/1\.1 400 [^]*bad_method/);
    expect(host!.relay.counters()).toMatchObject({ waiting: 0, pairs: 0, refused: 4 });
  });

  it("turns away the old 32-hex form of a token with 400", async () => {
    await setUp();
    expect(await rawUpgrade(`P2P-Relay-Token: ${randomBytes(16).toString("hex")}\r\nP2P-Relay-Role: connect\r\n`)).toMatch(/^HTTP\/1\.1 400 [^]*bad_token/);
  });

  it("refuses with 403 bad_token a well-formed token no tracker minted for it: two strangers who agree on one get no pair", async () => {
    await setUp();
    const madeUp = randomBytes(24).toString("hex");
    const [accept, connect] = await Promise.all([refusal(dial(madeUp, "accept", SHARER_IP)), refusal(dial(madeUp, "connect", DOWNLOADER_IP))]);
    expect(accept).toMatchObject({ code: "RELAY_REFUSED", status: 403, reason: "bad_token" });
    expect(connect).toMatchObject({ code: "RELAY_REFUSED", status: 403, reason: "bad_token" });
    // Neither side was ever held waiting for the other.
    expect(host!.relay.counters()).toMatchObject({ waiting: 0, pairs: 0, pairsTotal: 0, refused: 2 });
    expect(asked).toBe(0);
  });

  it("refuses with 403 a token minted for another relay, or one whose minute is over", async () => {
    await setUp();
    const otherRelays = await mintRelayToken(await relayTokenKey("another-relay-key-0123456789"), Date.now());
    const stale = await mintRelayToken(RELAY_TOKEN_KEY, Date.now() - 10 * 60_000);
    for (const secret of [otherRelays, stale]) {
      const [accept, connect] = await Promise.all([refusal(dial(secret, "accept", SHARER_IP)), refusal(dial(secret, "connect", DOWNLOADER_IP))]);
      expect([accept.status, accept.reason, connect.status, connect.reason]).toEqual([403, "bad_token", 403, "bad_token"]);
    }
    expect(host!.relay.counters()).toMatchObject({ pairsTotal: 0 });
    // A token this relay's tracker minted just now makes its pair.
    await pair(await mintRelayToken(RELAY_TOKEN_KEY, Date.now()));
    expect(host!.relay.counters()).toMatchObject({ pairs: 1, pairsTotal: 1 });
  });

  it("lets a stranger with another token wait for nobody (504 once the wait is over) while a pair is carried", async () => {
    await setUp({ waitMs: 300 });
    const downloader = await pair();
    const stranger = await refusal(dial(await token(), "connect", STRANGER_IP));
    expect(stranger).toMatchObject({ code: "RELAY_REFUSED", status: 504, reason: "no_mate" });
    const agent = new OneSocketAgent(downloader);
    agents.push(agent);
    expect((await get(agent, chunkPath)).body.equals(CHUNK)).toBe(true);
    expect(asked).toBe(1);
  });

  it("refuses a token already used (410), during its pair and after it", async () => {
    await setUp();
    const secret = await token();
    const downloader = await pair(secret);
    expect(await refusal(dial(secret, "connect", STRANGER_IP))).toMatchObject({ status: 410, reason: "token_used" });
    expect(await refusal(dial(secret, "accept", STRANGER_IP))).toMatchObject({ status: 410, reason: "token_used" });
    downloader.destroy();
    await until(() => host!.relay.counters().pairs === 0);
    expect(await refusal(dial(secret, "connect", DOWNLOADER_IP))).toMatchObject({ status: 410, reason: "token_used" });
    expect(asked).toBe(0);
  });

  it("refuses a second socket of the role already waiting (409), and the first still makes its pair", async () => {
    await setUp();
    const secret = await token();
    const first = dial(secret, "accept", SHARER_IP);
    await until(() => host!.relay.counters().waiting === 1);
    expect(await refusal(dial(secret, "accept", STRANGER_IP))).toMatchObject({ status: 409, reason: "role_taken" });
    const [sharerSocket, downloader] = await Promise.all([first, dial(secret, "connect", DOWNLOADER_IP)]);
    sharer!.emit("connection", sharerSocket);
    const agent = new OneSocketAgent(downloader);
    agents.push(agent);
    expect((await get(agent, chunkPath)).status).toBe(200);
  });
});

describe("the relay's streaming", () => {
  it("holds the sharer back while the downloader does not read: an answer is never gathered in the relay", async () => {
    host = await startRelay();
    const BIG = 64 * 1024 * 1024;
    const block = Buffer.alloc(1024 * 1024);
    let written = 0;
    sharer = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": BIG });
      const more = (): void => {
        while (written < BIG) {
          written += block.length;
          if (!res.write(block)) {
            res.once("drain", more);
            return;
          }
        }
        res.end();
      };
      more();
    });
    const downloader = await pair();
    downloader.pause();
    downloader.write(`GET ${chunkPath} HTTP/1.1\r\nHost: relay\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 800));
    // What is not in the relay is in the kernel's socket buffers, a few MiB each side on loopback.
    expect(host.relay.counters().bytes).toBeLessThan(24 * 1024 * 1024);
    expect(written).toBeLessThan(40 * 1024 * 1024);
  });
});

describe("the relay's caps", () => {
  it("is full at maxPairs: a newcomer gets 503 with Retry-After at once", async () => {
    await setUp({ maxPairs: 1 });
    await pair();
    const started = Date.now();
    const full = await refusal(dial(await token(), "accept", STRANGER_IP));
    expect(full).toMatchObject({ status: 503, reason: "relay_full", retryAfterSec: 10 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("holds at most maxWaiting tokens waiting; a place is free again once a waiter leaves", async () => {
    await setUp({ maxWaiting: 2 });
    const waiters = [await token(), await token()].map((secret) => refusal(dial(secret, "accept", SHARER_IP)));
    await until(() => host!.relay.counters().waiting === 2);
    expect(await refusal(dial(await token(), "accept", STRANGER_IP))).toMatchObject({ status: 503, reason: "relay_full" });
    host!.relay.close();
    for (const waiter of waiters) expect(await waiter).toMatchObject({ status: 503, reason: "relay_stopped" });
    expect(host!.relay.counters().waiting).toBe(0);
  });

  it("frees a waiting place as soon as its peer gives up", async () => {
    await setUp({ maxWaiting: 1 });
    const controller = new AbortController();
    const waiting = relayConnect({ ip: RELAY_IP, port: host!.port, token: await token(), role: "accept", localAddress: SHARER_IP, signal: controller.signal });
    await until(() => host!.relay.counters().waiting === 1);
    controller.abort();
    expect(await refusal(waiting)).toMatchObject({ code: "RELAY_ABORTED" });
    await until(() => host!.relay.counters().waiting === 0);
    await pair();
  });

  it("holds at most maxPairsPerAddress pairs and waiting tokens per address", async () => {
    await setUp({ maxPairsPerAddress: 1 });
    await pair();
    // The sharer's and the downloader's addresses each take part in one pair already.
    expect(await refusal(dial(await token(), "accept", SHARER_IP))).toMatchObject({ status: 503, reason: "relay_full" });
    const secret = await token();
    const waiting = dial(secret, "accept", STRANGER_IP);
    await until(() => host!.relay.counters().waiting === 1);
    expect(await refusal(dial(secret, "connect", DOWNLOADER_IP))).toMatchObject({ status: 503, reason: "relay_full" });
    host!.relay.close();
    expect(await refusal(waiting)).toMatchObject({ status: 503 });
  });

  it("closes a pair over its byte cap, in the middle of an answer", async () => {
    await setUp({ maxBytesPerPair: 256 * 1024 });
    const downloader = await pair();
    const agent = new OneSocketAgent(downloader);
    agents.push(agent);
    await expect(get(agent, chunkPath)).rejects.toThrow();
    await closedSocket(downloader);
    await until(() => host!.relay.counters().pairs === 0);
    const { bytes } = host!.relay.counters();
    expect(bytes).toBeGreaterThan(256 * 1024);
    expect(bytes).toBeLessThan(CHUNK.length);
  });

  it("leaves no timer behind once a pair and a wait are over", async () => {
    await setUp({ waitMs: 200 });
    const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    const before = timers();
    const downloader = await pair();
    await refusal(dial(await token(), "accept", STRANGER_IP));
    downloader.destroy();
    await until(() => host!.relay.counters().pairs === 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it("closes a pair at its time cap", async () => {
    await setUp({ maxSecondsPerPair: 0.3 });
    const downloader = await pair();
    const started = Date.now();
    await closedSocket(downloader);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(host!.relay.counters()).toMatchObject({ pairs: 0, pairsTotal: 1 });
  });

  it("closes every pair when it stops, and may be stopped twice", async () => {
    await setUp();
    const downloader = await pair();
    host!.relay.close();
    host!.relay.close();
    await closedSocket(downloader);
    expect(await refusal(dial(await token(), "accept", SHARER_IP))).toMatchObject({ status: 503, reason: "relay_stopped" });
  });
});
