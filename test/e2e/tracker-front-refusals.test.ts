import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "../helpers/http.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

/**
 * One client's refused or unfinished request must not hold up the next client. The real tracker (the Worker
 * in workerd under wrangler dev, behind the front) once left the request after a 2 MB body unanswered for
 * as long as its client waited: the Worker had read 1 MiB of the body and cancelled the rest, which wedges
 * wrangler dev's proxy for the next request, on any connection.
 */

const BAD_CLIENT = "127.0.31.1";
const OTHER_CLIENT = "127.0.31.2";
const ANNOUNCE = `/v1/files/${"a".repeat(40)}/peers`;
const BIG = Buffer.alloc(2_000_000, "x");
/** What "answered promptly" means here; a healthy tracker answers health in milliseconds. */
const PROMPT_MS = 2000;

let tracker: TestTracker | undefined;

beforeAll(async () => {
  tracker = await startTestTracker();
});

afterAll(async () => {
  await tracker?.dispose();
});

function trackerPort(): number {
  if (tracker === undefined) throw new Error("the tracker did not start");
  return tracker.port;
}

/** The next request, from another address on a new connection, must be answered within PROMPT_MS. */
async function expectNextRequestPrompt(): Promise<void> {
  const started = Date.now();
  const res = await http(`http://127.0.0.1:${trackerPort()}/v1/health`, { localAddress: OTHER_CLIENT, timeoutMs: PROMPT_MS });
  expect(res.status).toBe(200);
  expect(Date.now() - started).toBeLessThan(PROMPT_MS);
}

/** A POST from BAD_CLIENT whose body is written in 64 KiB parts, chunked unless a Content-Length is given. */
function post(headers: Record<string, string>, body: Buffer, waitForContinue = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: trackerPort(), path: ANNOUNCE, method: "POST", headers, localAddress: BAD_CLIENT, agent: false, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("the refused request itself got no answer")));
    req.on("error", reject);
    const write = (): void => {
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    };
    if (waitForContinue) req.once("continue", write);
    else write();
  });
}

/** A raw connection from `from` (BAD_CLIENT by default); the caller destroys it. */
async function rawConnection(from = BAD_CLIENT): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port: trackerPort(), localAddress: from });
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** The first bytes `socket` receives within `ms`, or "" if none. */
function firstBytes(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(""), ms);
    socket.once("data", (data: Buffer) => {
      clearTimeout(timer);
      resolve(data.toString("latin1"));
    });
  });
}

const head = (framing: string): string => `POST ${ANNOUNCE} HTTP/1.1\r\nHost: tracker\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;

describe("the local tracker after a refused or unfinished request", () => {
  it("answers the next client promptly after a 2 MB body refused by its Content-Length", async () => {
    expect(await post({ "content-type": "application/json", "content-length": String(BIG.length) }, BIG)).toBe(413);
    await expectNextRequestPrompt();
  });

  it("answers the next client promptly after a 2 MB body announced with Expect: 100-continue (as curl sends it)", async () => {
    const headers = { "content-type": "application/json", "content-length": String(BIG.length), expect: "100-continue" };
    expect(await post(headers, BIG, true)).toBe(413);
    await expectNextRequestPrompt();
  });

  it("answers the next client promptly after a 2 MB chunked body (no Content-Length)", async () => {
    expect(await post({ "content-type": "application/json" }, BIG)).toBe(413);
    await expectNextRequestPrompt();
  });

  it("answers the next client promptly after a 2 MB body of the wrong content type", async () => {
    const status = await post({ "content-type": "text/plain", "content-length": String(BIG.length) }, BIG);
    expect([413, 415]).toContain(status);
    await expectNextRequestPrompt();
  });

  it("answers the next client promptly after a small body of the wrong content type", async () => {
    expect(await post({ "content-type": "text/plain", "content-length": "10" }, Buffer.from("0123456789"))).toBe(415);
    await expectNextRequestPrompt();
  });

  for (const [name, framing, sent] of [
    ["Content-Length", `Content-Length: ${BIG.length}`, BIG.subarray(0, 100_000)],
    ["chunked", "Transfer-Encoding: chunked", Buffer.concat([Buffer.from("186a0\r\n"), BIG.subarray(0, 100_000)])],
  ] as const) {
    it(`answers the next client promptly after a client went away mid-body (${name})`, async () => {
      const socket = await rawConnection();
      try {
        await new Promise<void>((resolve) => socket.write(Buffer.concat([Buffer.from(head(framing)), sent]), () => resolve()));
        // Long enough for the front to have passed on whatever it passes on before the client goes.
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        socket.resetAndDestroy();
      }
      await expectNextRequestPrompt();
    });
  }

  it("answers the next client promptly while 130 clients trickle bodies (more than the front's 128 upstream sockets)", async () => {
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 130; i++) {
        // From five addresses, each under the front's cap per address.
        const socket = await rawConnection(i === 0 ? BAD_CLIENT : `127.0.31.${10 + (i % 5)}`);
        sockets.push(socket);
        socket.write(head("Content-Length: 1000") + "x");
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      await expectNextRequestPrompt();
      // A trickled body that does finish is still passed on and answered (not JSON: 400).
      const first = sockets[0]!;
      const answer = firstBytes(first, PROMPT_MS);
      first.write("x".repeat(999));
      expect(await answer).toMatch(/^HTTP\/1\.1 400 /);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it("closes connections past its cap from one address at once, and serves other clients", async () => {
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 80; i++) sockets.push(await rawConnection("127.0.31.20"));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const closed = sockets.filter((socket) => socket.destroyed || socket.readableEnded).length;
      expect(closed).toBeGreaterThanOrEqual(80 - 64);
      expect(closed).toBeLessThan(80);
      await expectNextRequestPrompt();
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
