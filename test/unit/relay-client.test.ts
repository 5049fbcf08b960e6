import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { relayConnect } from "../../peer/connect/relay-client.js";
import { RelayError } from "../../peer/connect/relay-errors.js";

/** relayConnect against a raw TCP server that answers whatever the test says: every way a relay may answer. */

const IP = "127.0.91.5";
const TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef";

let server: Server | undefined;
const sockets = new Set<Socket>();
let request = "";

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
  request = "";
});

/** A server that reads the upgrade request and answers `answer` (null: says nothing). */
async function relayAnswering(answer: Buffer | string | null): Promise<number> {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (data: Buffer) => {
      request += data.toString("latin1");
      if (request.includes("\r\n\r\n") && answer !== null) socket.write(answer);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, IP, resolve));
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

async function failure(promise: Promise<Socket>): Promise<RelayError> {
  const outcome: unknown = await promise.then(
    (socket) => {
      socket.destroy();
      return null;
    },
    (e: unknown) => e,
  );
  if (!(outcome instanceof RelayError)) throw new Error(`expected a RelayError, got ${String(outcome)}`);
  return outcome;
}

const ask = (port: number, extra: Partial<Parameters<typeof relayConnect>[0]> = {}): Promise<Socket> =>
  relayConnect({ ip: IP, port, token: TOKEN, role: "connect", timeoutMs: 2000, ...extra });

describe("relayConnect", () => {
  it("sends the upgrade with its token and role, and hands over the socket with the bytes that came behind the 101", async () => {
    const port = await relayAnswering("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: p2p-relay/1\r\n\r\nHTTP/1.1 200 OK\r\n");
    const socket = await ask(port, { role: "accept" });
    sockets.add(socket);
    expect(request).toBe(`GET /v1/relay HTTP/1.1\r\nHost: ${IP}:${port}\r\nConnection: Upgrade\r\nUpgrade: p2p-relay/1\r\nP2P-Relay-Token: ${TOKEN}\r\nP2P-Relay-Role: accept\r\n\r\n`);
    const first = await new Promise<string>((resolve) => socket.once("data", (data: Buffer) => resolve(data.toString("latin1"))));
    expect(first).toBe("HTTP/1.1 200 OK\r\n");
  });

  it("reports a refusal with the relay's status, reason and Retry-After", async () => {
    const body = JSON.stringify({ error: { code: "relay_full", message: "busy" } });
    const port = await relayAnswering(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(await failure(ask(port))).toMatchObject({ code: "RELAY_REFUSED", kind: "network", status: 503, reason: "relay_full", retryAfterSec: 7 });
  });

  it.each([
    ["a head over 4 KiB", `HTTP/1.1 101 Switching Protocols\r\nX-Pad: ${"a".repeat(5000)}\r\n\r\n`],
    ["a 101 to another protocol", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"],
    ["bytes that are not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n"],
    ["a header line without a colon", "HTTP/1.1 101 Switching Protocols\r\nUpgrade p2p-relay/1\r\n\r\n"],
  ])("fails on %s (RELAY_PROTOCOL)", async (_name, answer) => {
    const port = await relayAnswering(answer);
    expect(await failure(ask(port))).toMatchObject({ code: "RELAY_PROTOCOL" });
  });

  it("times out on a relay that says nothing (RELAY_TIMEOUT)", async () => {
    const port = await relayAnswering(null);
    expect(await failure(ask(port, { timeoutMs: 200 }))).toMatchObject({ code: "RELAY_TIMEOUT" });
  });

  it("never sends a token that is not 48 lowercase hex (it goes into the head as it is): RELAY_PROTOCOL, nothing written", async () => {
    const port = await relayAnswering(null);
    for (const token of [TOKEN.slice(0, 32), TOKEN.toUpperCase(), `${TOKEN}\r\nX-Injected: 1`]) {
      expect(await failure(ask(port, { token }))).toMatchObject({ code: "RELAY_PROTOCOL" });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(request).toBe("");
  });

  it("fails on a relay that is not there (RELAY_UNREACHABLE)", async () => {
    const port = await relayAnswering(null);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    expect(await failure(ask(port))).toMatchObject({ code: "RELAY_UNREACHABLE" });
  });

  it("gives up when its signal says so, before and while it waits (RELAY_ABORTED)", async () => {
    const port = await relayAnswering(null);
    expect(await failure(ask(port, { signal: AbortSignal.abort() }))).toMatchObject({ code: "RELAY_ABORTED", kind: "interrupted" });
    const controller = new AbortController();
    const waiting = ask(port, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await failure(waiting)).toMatchObject({ code: "RELAY_ABORTED" });
  });
});
