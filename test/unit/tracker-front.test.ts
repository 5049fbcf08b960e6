import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startTrackerFront, type TrackerFront } from "../../peer/cli/tracker-front.js";
import { http } from "../helpers/http.js";

/**
 * The local tracker's front, against a raw TCP upstream the test controls: it must replace a client's
 * CF-Connecting-IP, send a request once more when the upstream connection dies before answering, and say
 * 503 when the upstream is gone.
 */

let upstream: Server | undefined;
let front: TrackerFront | undefined;

afterEach(async () => {
  await front?.close();
  await new Promise((resolve) => (upstream === undefined ? resolve(undefined) : upstream.close(resolve)));
  front = undefined;
  upstream = undefined;
});

/** An upstream that drops the first `drops` connections at their first request and echoes on the others. */
async function startUpstream(drops: number): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  upstream = createServer((socket: Socket) => {
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
});
