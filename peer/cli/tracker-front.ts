import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from "node:http";

/**
 * The local tracker's front door. The tracker records the address Cloudflare's edge puts in
 * CF-Connecting-IP, which the edge always overwrites; `wrangler dev` instead believes one a client sends
 * (Miniflare sets the header only when it is absent), so on a LAN any client could announce another
 * machine's address. This proxy does what the edge does: every request reaches wrangler dev, listening on
 * loopback only, with CF-Connecting-IP set to the address of the connection it came on. A request whose
 * upstream connection fails before an answer is sent once more on a new connection (bodies up to 64 KiB).
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

/** Bodies up to this size are kept while they stream, so that a request can be sent again. */
const RETRY_BODY_LIMIT = 64 * 1024;

const unavailable = JSON.stringify({ error: { code: "tracker_unavailable", message: "the local tracker (wrangler dev) did not answer" } });

export function startTrackerFront(host: string, port: number, upstreamPort: number): Promise<TrackerFront> {
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const clientIp = req.socket.remoteAddress;
    if (clientIp === undefined) {
      res.destroy();
      return;
    }
    // Whatever CF-Connecting-IP the client sent is replaced, as the edge does.
    const options = { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: { ...endToEnd(req.headers), "cf-connecting-ip": clientIp } };
    const kept: Buffer[] = [];
    let keptBytes = 0;
    req.on("data", (part: Buffer) => {
      keptBytes += part.length;
      if (keptBytes <= RETRY_BODY_LIMIT) kept.push(part);
    });
    const bodyRead = new Promise<boolean>((done) => {
      req.once("end", () => done(true));
      req.once("error", () => done(false));
      req.once("close", () => done(req.complete));
    });

    const send = (retry: boolean): void => {
      // The retry goes on a new connection: the usual failure is a kept-alive one wrangler had just closed.
      const upstream = request({ ...options, agent: retry ? false : agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
      });
      upstream.on("error", () => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        void bodyRead.then((read) => {
          if (!retry && read && keptBytes <= RETRY_BODY_LIMIT) {
            send(true);
            return;
          }
          res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
          res.end(unavailable);
        });
      });
      if (retry) upstream.end(Buffer.concat(kept));
      else {
        req.on("error", () => upstream.destroy());
        req.pipe(upstream);
      }
    };
    send(false);
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
