import { randomBytes } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectError } from "../../peer/connect/connect-error.js";
import { offerHandshake } from "../../peer/connect/offer-handshake.js";
import { PendingHandshakes } from "../../peer/connect/pending-handshakes.js";
import { createPublicServer, servePeerSocket } from "../../peer/server/public-server.js";

/** A (the downloader) at 127.0.90.1, B (the unreachable sharer) dialling it from 127.0.90.2. */
const A_IP = "127.0.90.1";
const B_IP = "127.0.90.2";
const B_PEER = `p2p-${"b".repeat(32)}`;
const OTHER_PEER = `p2p-${"c".repeat(32)}`;
const SHA1 = "a".repeat(40);

const nonce = (): string => randomBytes(16).toString("hex");

const servers: Array<Server | HttpServer> = [];
const sockets: Socket[] = [];
const registries: PendingHandshakes[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const registry of registries.splice(0)) registry.close();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((done) => {
          server.close(() => done());
          if ("closeAllConnections" in server) server.closeAllConnections();
        }),
    ),
  );
});

function listen(server: Server | HttpServer): Promise<number> {
  servers.push(server);
  return new Promise<number>((resolve) =>
    server.listen(0, A_IP, () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    }),
  );
}

/** A's public server with its handshake registry. */
async function startA(maxPending?: number): Promise<{ pending: PendingHandshakes; port: number }> {
  const pending = new PendingHandshakes(maxPending);
  registries.push(pending);
  const port = await listen(createPublicServer({ lookup: () => undefined, onUpgrade: pending.upgrade }));
  return { pending, port };
}

function dialFromB(port: number): Socket {
  const socket = connect({ host: A_IP, port, localAddress: B_IP });
  sockets.push(socket);
  return socket;
}

/** Resolves with everything the socket says until it closes. */
function readAll(socket: Socket): Promise<string> {
  return new Promise<string>((resolve) => {
    let text = "";
    socket.on("data", (data: Buffer) => (text += data.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(text));
  });
}

/** Resolves with what the socket says until `until` matches it. */
function readUntil(socket: Socket, until: RegExp): Promise<string> {
  return new Promise<string>((resolve) => {
    let text = "";
    socket.on("data", (data: Buffer) => {
      text += data.toString("latin1");
      if (until.test(text)) resolve(text);
    });
  });
}

/** A raw TCP server at A's address that answers a handshake with `reply` (or nothing, for null). */
async function rawA(reply: Buffer | null, onSocket?: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    onSocket?.(socket);
    socket.once("data", () => {
      if (reply !== null) socket.write(reply);
    });
  });
  return listen(server);
}

describe("the reverse handshake", () => {
  it("gives A the socket B opened, after which A is the client and B's public server answers", async () => {
    const { pending, port } = await startA();
    const n = nonce();
    const awaited = pending.expect(B_PEER, n, 2000);
    const offered = offerHandshake(dialFromB(port), { nonce: n, peerId: B_PEER }, 2000);
    const [atA, atB] = await Promise.all([awaited, offered]);
    sockets.push(atA);
    expect(atA.remoteAddress).toBe(B_IP);
    expect(pending.size).toBe(0);

    const bServer = createPublicServer({ lookup: () => undefined });
    servers.push(bServer);
    servePeerSocket(bServer, atB);
    const answer = readUntil(atA, /not_shared/);
    atA.write(`GET /v1/files/${SHA1}/manifest HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(await answer).toMatch(/^HTTP\/1\.1 404 .*not_shared/s);
  });

  it("keeps the bytes that came with the 101 for B's server", async () => {
    const request = `GET /v1/files/${SHA1}/manifest HTTP/1.1\r\nHost: x\r\n\r\n`;
    let atA: Socket | undefined;
    const port = await rawA(Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: p2p-reverse/1\r\n\r\n${request}`), (s) => (atA = s));
    const atB = await offerHandshake(dialFromB(port), { nonce: nonce(), peerId: B_PEER }, 2000);
    const answer = readUntil(atA!, /not_shared/);
    const bServer = createPublicServer({ lookup: () => undefined });
    servers.push(bServer);
    servePeerSocket(bServer, atB);
    expect(await answer).toMatch(/^HTTP\/1\.1 404 .*not_shared/s);
  });

  it.each([
    ["a nonce nobody awaits", nonce(), B_PEER],
    ["another peer's nonce", null, OTHER_PEER],
  ])("answers %s with a 403, closes, and serves nothing", async (_name, offeredNonce, peerId) => {
    const { pending, port } = await startA();
    const n = nonce();
    const stop = new AbortController();
    const awaited = pending.expect(B_PEER, n, 5000, stop.signal);
    const socket = dialFromB(port);
    const said = readAll(socket);
    const offered = offerHandshake(socket, { nonce: offeredNonce ?? n, peerId }, 2000);
    await expect(offered).rejects.toMatchObject({ code: "HANDSHAKE_REFUSED", status: 403 });
    expect(socket.destroyed).toBe(true);
    // The 403 and nothing more.
    expect(await said).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n(?:[^\r\n]+\r\n)*\r\n$/);
    // The right socket may still come: the wait goes on until its owner gives up.
    expect(pending.size).toBe(1);
    stop.abort();
    await expect(awaited).rejects.toMatchObject({ code: "CONNECT_ABORTED" });
  });

  it("answers any other upgrade on the public port with a 400 and closes", async () => {
    const { port } = await startA();
    const socket = dialFromB(port);
    const said = readAll(socket);
    socket.write("GET /v1/files HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    expect(await said).toMatch(/^HTTP\/1\.1 400 /);
  });

  it.each([
    ["garbage", Buffer.from("hello there\r\n\r\n"), "HANDSHAKE_INVALID"],
    ["a head past 4 KiB", Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nX: ${"y".repeat(5000)}`), "HANDSHAKE_INVALID"],
    ["a 200", Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), "HANDSHAKE_REFUSED"],
    ["a 101 to another protocol", Buffer.from("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), "HANDSHAKE_REFUSED"],
    ["a close", Buffer.alloc(0), "HANDSHAKE_CLOSED"],
  ])("B rejects %s and destroys the socket", async (_name, reply, code) => {
    const port = await rawA(reply.length === 0 ? null : reply, reply.length === 0 ? (s) => s.once("data", () => s.destroy()) : undefined);
    const socket = dialFromB(port);
    const offered = offerHandshake(socket, { nonce: nonce(), peerId: B_PEER }, 2000);
    await expect(offered).rejects.toBeInstanceOf(ConnectError);
    await expect(offered).rejects.toMatchObject({ code });
    expect(socket.destroyed).toBe(true);
  });

  it("B gives up on silence in its time", async () => {
    const port = await rawA(null);
    const socket = dialFromB(port);
    const started = Date.now();
    await expect(offerHandshake(socket, { nonce: nonce(), peerId: B_PEER }, 300)).rejects.toMatchObject({ code: "HANDSHAKE_TIMEOUT" });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(socket.destroyed).toBe(true);
  });

  it("A gives up waiting in its time, and refuses more waiters than its bound or a nonce twice", async () => {
    const { pending } = await startA(2);
    const n = nonce();
    const first = pending.expect(B_PEER, n, 200);
    await expect(pending.expect(B_PEER, n, 200)).rejects.toMatchObject({ code: "HANDSHAKE_BUSY" });
    const second = pending.expect(B_PEER, nonce(), 200);
    await expect(pending.expect(B_PEER, nonce(), 200)).rejects.toMatchObject({ code: "HANDSHAKE_BUSY" });
    await expect(first).rejects.toMatchObject({ code: "HANDSHAKE_TIMEOUT" });
    await expect(second).rejects.toMatchObject({ code: "HANDSHAKE_TIMEOUT" });
    expect(pending.size).toBe(0);
  });
});

describe("the handshake on a socket A opened itself (acceptOn)", () => {
  /** A socket pair standing in for a punched connection: A's end and B's end. */
  async function pair(): Promise<{ atA: Socket; atB: Socket }> {
    let accepted: (socket: Socket) => void = () => undefined;
    const arrived = new Promise<Socket>((resolve) => (accepted = resolve));
    const port = await listen(
      createServer((socket) => {
        sockets.push(socket);
        accepted(socket);
      }),
    );
    const atB = dialFromB(port);
    return { atA: await arrived, atB };
  }

  it("reads B's handshake and answers 101", async () => {
    const pending = new PendingHandshakes();
    registries.push(pending);
    const { atA, atB } = await pair();
    const n = nonce();
    const [accepted, offered] = await Promise.all([pending.acceptOn(atA, B_PEER, n, 2000), offerHandshake(atB, { nonce: n, peerId: B_PEER }, 2000)]);
    expect(accepted).toBe(atA);
    expect(offered).toBe(atB);
    // Now A is the client: what it writes reaches B unchanged.
    const got = new Promise<string>((resolve) => atB.once("data", (data: Buffer) => resolve(data.toString())));
    atB.resume();
    atA.write("ping");
    expect(await got).toBe("ping");
  });

  it.each([
    ["a wrong nonce", (atB: Socket) => offerHandshake(atB, { nonce: nonce(), peerId: B_PEER }, 2000).catch(() => undefined), "HANDSHAKE_REFUSED"],
    ["garbage", (atB: Socket) => atB.write("\x16\x03\x01 binary junk\r\n\r\n"), "HANDSHAKE_INVALID"],
    ["a plain request", (atB: Socket) => atB.write("GET /v1/files HTTP/1.1\r\nHost: x\r\n\r\n"), "HANDSHAKE_INVALID"],
    ["a head past 4 KiB", (atB: Socket) => atB.write(`GET /v1/reverse HTTP/1.1\r\nX: ${"y".repeat(6000)}\r\n\r\n`), "HANDSHAKE_INVALID"],
    ["a close", (atB: Socket) => atB.destroy(), "HANDSHAKE_CLOSED"],
    ["silence", () => undefined, "HANDSHAKE_TIMEOUT"],
  ])("rejects %s (at once, unless silent) and closes the socket", async (_name, act, code) => {
    const pending = new PendingHandshakes();
    registries.push(pending);
    const { atA, atB } = await pair();
    atB.on("error", () => undefined);
    const started = Date.now();
    const accepting = pending.acceptOn(atA, B_PEER, nonce(), 500);
    void act(atB);
    await expect(accepting).rejects.toMatchObject({ code });
    if (code !== "HANDSHAKE_TIMEOUT") expect(Date.now() - started).toBeLessThan(400);
    expect(atA.destroyed).toBe(true);
    expect(pending.size).toBe(0);
  });
});

describe("the reverse handshake, fuzzed", () => {
  it("never gives a 101 (nor the awaited socket) to a head that is not the awaited handshake, and still takes the right one after", async () => {
    const { default: fc } = await import("fast-check");
    const { pending, port } = await startA();
    const awaited = nonce();
    const arriving = pending.expect(B_PEER, awaited, 60_000);
    const line = fc.oneof(
      fc.constantFrom("Upgrade: p2p-reverse/1", "Upgrade: websocket", "Upgrade: p2p-relay/1", "Connection: Upgrade", "Connection: close", `P2P-Peer: ${B_PEER}`, `P2P-Peer: ${OTHER_PEER}`, "Content-Length: 5", "Transfer-Encoding: chunked"),
      fc.stringMatching(/^[0-9a-f]{32}$/).map((n) => `P2P-Nonce: ${n}`),
      fc.constant(`P2P-Nonce: ${awaited.toUpperCase()}`),
      fc.string({ maxLength: 80 }).map((s) => s.replace(/\r|\n/g, "")),
    );
    const head = fc.record({
      method: fc.constantFrom("GET", "POST", "CONNECT", "get", "GET /v1/reverse"),
      path: fc.constantFrom("/v1/reverse", "/v1/reverse?x=1", "/", "*", "http://127.0.0.1/v1/reverse", `/v1/files/${SHA1}`),
      lines: fc.array(line, { maxLength: 8 }),
      tail: fc.oneof(fc.constant(""), fc.string({ maxLength: 40 })),
    });
    await fc.assert(
      fc.asyncProperty(head, async ({ method, path, lines, tail }) => {
        const socket = dialFromB(port);
        socket.on("error", () => undefined);
        const answer = readAll(socket);
        socket.write(`${method} ${path} HTTP/1.1\r\nHost: a\r\n${lines.join("\r\n")}\r\n\r\n${tail}`);
        setTimeout(() => socket.destroy(), 400).unref();
        expect(await answer).not.toMatch(/^HTTP\/1\.1 101/);
      }),
      { numRuns: 100 },
    );
    expect(pending.size).toBe(1);
    // The awaited handshake still works after all that.
    const b = dialFromB(port);
    await offerHandshake(b, { nonce: awaited, peerId: B_PEER }, 5000);
    const got = await arriving;
    expect(got.remoteAddress).toBe(B_IP);
    got.destroy();
  }, 120_000);
});
