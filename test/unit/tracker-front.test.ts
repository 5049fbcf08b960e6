import { request } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, startTrackerFront, type TrackerFront } from "../../peer/cli/tracker-front.js";
import { http } from "../helpers/http.js";

/**
 * The local tracker's front, against a raw TCP upstream the test controls: it must replace a client's
 * CF-Connecting-IP, send a request once more when the upstream connection dies before answering, and say
 * 503 when the upstream is gone. It must pass on only whole bodies of bounded size, and never leave an
 * upstream socket waiting on a client.
 */

let upstream: Server | undefined;
const upstreamSockets = new Set<Socket>();
let front: TrackerFront | undefined;
const clientSockets = new Set<Socket>();

afterEach(async () => {
  for (const socket of clientSockets) socket.destroy();
  clientSockets.clear();
  await front?.close();
  for (const socket of upstreamSockets) socket.destroy();
  upstreamSockets.clear();
  await new Promise((resolve) => (upstream === undefined ? resolve(undefined) : upstream.close(resolve)));
  front = undefined;
  upstream = undefined;
});

/** An upstream server whose connections are closed after each test. */
async function listenUpstream(onConnection: (socket: Socket) => void): Promise<number> {
  upstream = createServer((socket: Socket) => {
    upstreamSockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => upstreamSockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => upstream!.listen(0, "127.0.0.1", () => resolve()));
  const address = upstream.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

async function startFront(upstreamPort: number, upstreamIdleMs?: number): Promise<number> {
  front = await startTrackerFront("127.0.0.1", 0, upstreamPort, upstreamIdleMs === undefined ? {} : { upstreamIdleMs });
  return (front.server.address() as { port: number }).port;
}

/** A raw connection to the front from 127.0.31.1, destroyed after the test. */
async function rawClient(frontPort: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port: frontPort, localAddress: "127.0.31.1" });
  clientSockets.add(socket);
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Everything `socket` receives until `pattern` matches it, or what came within `ms`. */
function receiveUntil(socket: Socket, pattern: RegExp, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    let received = "";
    const done = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      resolve(received);
    };
    const onData = (data: Buffer): void => {
      received += data.toString("latin1");
      if (pattern.test(received)) done();
    };
    const timer = setTimeout(done, ms);
    socket.on("data", onData);
  });
}

/** An upstream that drops the first `drops` connections at their first request and echoes on the others. */
async function startUpstream(drops: number): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  upstream = createServer((socket: Socket) => {
    upstreamSockets.add(socket);
    socket.on("close", () => upstreamSockets.delete(socket));
    const dropThis = connections++ < drops;
    let received = "";
    socket.on("error", () => undefined);
    socket.on("data", (data) => {
      received += data.toString("latin1");
      const headEnd = received.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? 0);
      if (received.length < headEnd + 4 + length) return;
      if (dropThis) {
        socket.resetAndDestroy();
        return;
      }
      const ip = /cf-connecting-ip: ([^\r]*)/i.exec(received)?.[1] ?? "";
      const body = JSON.stringify({ ip, body: received.slice(headEnd + 4, headEnd + 4 + length) });
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((resolve) => upstream!.listen(0, "127.0.0.1", () => resolve()));
  const address = upstream.address();
  return { port: typeof address === "object" && address !== null ? address.port : 0, connections: () => connections };
}

async function post(frontPort: number): Promise<{ status: number; json: { ip: string; body: string } | null; retryAfter: string | undefined }> {
  const res = await http(`http://127.0.0.1:${frontPort}/v1/files/x/peers`, {
    method: "POST",
    // A raw upstream reads Content-Length only (wrangler also takes chunked bodies).
    headers: { "content-type": "application/json", "content-length": "13", "cf-connecting-ip": "198.51.100.7" },
    body: '{"port":5001}',
    localAddress: "127.0.0.3",
  });
  return { status: res.status, json: res.status === 200 ? res.json<{ ip: string; body: string }>() : null, retryAfter: res.headers["retry-after"] as string | undefined };
}

describe("tracker front", () => {
  it("replaces the client's CF-Connecting-IP with the connection's address and passes the body", async () => {
    const { port } = await startUpstream(0);
    front = await startTrackerFront("127.0.0.1", 0, port);
    const frontPort = (front.server.address() as { port: number }).port;
    expect(await post(frontPort)).toMatchObject({ status: 200, json: { ip: "127.0.0.3", body: '{"port":5001}' } });
  });

  it("sends a request once more on a new connection when the upstream one dies before answering", async () => {
    const upstreamInfo = await startUpstream(1);
    front = await startTrackerFront("127.0.0.1", 0, upstreamInfo.port);
    const frontPort = (front.server.address() as { port: number }).port;
    expect(await post(frontPort)).toMatchObject({ status: 200, json: { ip: "127.0.0.3", body: '{"port":5001}' } });
    expect(upstreamInfo.connections()).toBe(2);
  });

  it("answers 503 with Retry-After when the upstream keeps failing", async () => {
    const upstreamInfo = await startUpstream(100);
    front = await startTrackerFront("127.0.0.1", 0, upstreamInfo.port);
    const frontPort = (front.server.address() as { port: number }).port;
    expect(await post(frontPort)).toMatchObject({ status: 503, retryAfter: "1" });
    expect(upstreamInfo.connections()).toBe(2);
  });

  it("refuses a body over its limit itself, by Content-Length or as it streams, and sends the upstream nothing", async () => {
    const upstreamInfo = await startUpstream(0);
    const frontPort = await startFront(upstreamInfo.port);
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, "x");
    const declared = await http(`http://127.0.0.1:${frontPort}/v1/files/x/peers`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(big.length) },
      body: big,
      localAddress: "127.0.31.1",
    });
    expect(declared.status).toBe(413);
    expect(declared.json()).toMatchObject({ error: { code: "body_too_large" } });
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: frontPort, path: "/v1/files/x/peers", method: "POST", headers: { "content-type": "application/json" }, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      for (let at = 0; at < 4 * MAX_BODY_BYTES; at += 1024) req.write(Buffer.alloc(1024, "x"));
      req.end();
    });
    expect(streamed).toBe(413);
    expect(upstreamInfo.connections()).toBe(0);
  });

  it("answers 413 before 100 Continue to a client that waits for it to send a body over the limit", async () => {
    const upstreamInfo = await startUpstream(0);
    const client = await rawClient(await startFront(upstreamInfo.port));
    const answer = receiveUntil(client, /\r\n\r\n/);
    client.write(`POST /v1/files/x/peers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n`);
    expect(await answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(upstreamInfo.connections()).toBe(0);
  });

  it("sends the upstream nothing until the client's body is whole, then sends it with its length", async () => {
    const upstreamInfo = await startUpstream(0);
    const client = await rawClient(await startFront(upstreamInfo.port));
    client.write(`POST /v1/files/x/peers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{"port`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(upstreamInfo.connections()).toBe(0);
    const answer = receiveUntil(client, /\}\}?$/);
    client.write(`\r\n7\r\n":5001}\r\n0\r\n\r\n`);
    const received = await answer;
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4))).toEqual({ ip: "127.0.31.1", body: '{"port":5001}' });
  });

  it("answers 503, without sending again, when the upstream takes a request and never answers", async () => {
    let connections = 0;
    const upstreamPort = await listenUpstream(() => connections++);
    const res = await http(`http://127.0.0.1:${await startFront(upstreamPort, 300)}/v1/health`, { localAddress: "127.0.31.1" });
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect(connections).toBe(1);
  });

  it("takes the whole answer off the upstream even when the client does not read it", async () => {
    const answerBytes = 32 * 1024 * 1024;
    let flushed: () => void = () => undefined;
    const upstreamFlushed = new Promise<void>((resolve) => (flushed = resolve));
    const upstreamPort = await listenUpstream((socket) => {
      socket.once("data", () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${answerBytes}\r\n\r\n`);
        // The callback runs once the front has taken every byte (the kernel holds only a few MB).
        socket.write(Buffer.alloc(answerBytes), () => flushed());
      });
    });
    const client = await rawClient(await startFront(upstreamPort));
    client.pause();
    client.write("GET /v1/files/x HTTP/1.1\r\nHost: t\r\n\r\n");
    const outcome = await Promise.race([upstreamFlushed.then(() => "taken"), new Promise((resolve) => setTimeout(() => resolve("still waiting on the client"), 5000))]);
    expect(outcome).toBe("taken");
  });
});

describe("the tracker front's WebSocket pass-through (rendezvous sockets)", () => {
  it("joins a rendezvous socket to the upstream with CF-Connecting-IP replaced, and refuses any other upgrade", async () => {
    const seen: string[] = [];
    const upstreamPort = await listenUpstream((socket) => {
      let head = "";
      socket.on("data", (part: Buffer) => {
        if (!head.includes("\r\n\r\n")) {
          head += part.toString("latin1");
          if (!head.includes("\r\n\r\n")) return;
          seen.push(head);
          socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Upstream: yes\r\n\r\n");
          const rest = head.slice(head.indexOf("\r\n\r\n") + 4);
          if (rest.length > 0) socket.write(`echo:${rest}`);
          return;
        }
        // After the upgrade: an echo, as frames would be.
        socket.write(`echo:${part.toString("latin1")}`);
      });
    });
    const frontPort = await startFront(upstreamPort);
    const client = await rawClient(frontPort);
    const id = `p2p-${"a".repeat(32)}`;
    client.write(`GET /v1/peers/${id}/socket HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCF-Connecting-IP: 203.0.113.9\r\n\r\n`);
    const answer = await receiveUntil(client, /X-Upstream: yes\r\n\r\n/);
    expect(answer).toMatch(/^HTTP\/1\.1 101 /);
    client.write("hello");
    expect(await receiveUntil(client, /echo:hello/)).toContain("echo:hello");
    expect(seen[0]).toMatch(/cf-connecting-ip: 127\.0\.31\.1\r\n/i);
    expect(seen[0]).not.toContain("203.0.113.9");
    // Any other path, or no websocket upgrade: refused at the front, the upstream never sees it.
    for (const head of [`GET /v1/files/${"a".repeat(40)}/peers HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`, `GET /v1/peers/${id}/socket HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n`]) {
      const other = await rawClient(frontPort);
      other.write(head);
      expect(await receiveUntil(other, /\r\n\r\n/)).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(seen).toHaveLength(1);
  });
});
