import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from "node:http";

/**
 * The local tracker's front door. The tracker records the address Cloudflare's edge puts in
 * CF-Connecting-IP, which the edge always overwrites; `wrangler dev` instead believes one a client sends
 * (Miniflare sets the header only when it is absent), so on a LAN any client could announce another
 * machine's address. This proxy does what the edge does: every request reaches wrangler dev, listening on
 * loopback only, with CF-Connecting-IP set to the address of the connection it came on.
 */

/** Headers that belong to one connection, not to the message (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

export interface TrackerFront {
  server: Server;
  close(): Promise<void>;
}

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  }
  return out;
}

export function startTrackerFront(host: string, port: number, upstreamPort: number): Promise<TrackerFront> {
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const clientIp = req.socket.remoteAddress;
    if (clientIp === undefined) {
      res.destroy();
      return;
    }
    const upstream = request(
      // Whatever CF-Connecting-IP the client sent is replaced, as the edge does.
        { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: { ...endToEnd(req.headers), "cf-connecting-ip": clientIp }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
      res.end(JSON.stringify({ error: { code: "tracker_unavailable", message: "the local tracker (wrangler dev) did not answer" } }));
    });
    req.on("error", () => upstream.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            agent.destroy();
          }),
      });
    });
  });
}
