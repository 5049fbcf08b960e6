import { normalizeIp } from "../../common/ip.js";
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { limitConnections } from "../server/connection-limits.js";
import { passUpgrade } from "./tracker-front-upgrade.js";
import type { Duplex } from "node:stream";

/**
 * The local tracker's front door. The tracker records the address Cloudflare's edge puts in
 * CF-Connecting-IP, which the edge always overwrites; `wrangler dev` instead believes one a client sends
 * (Miniflare sets the header only when it is absent), so on a LAN any client could announce another
 * machine's address. This proxy does what the edge does: every request reaches wrangler dev, listening on
 * loopback only, with CF-Connecting-IP set to the address of the connection it came on.
 *
 * It also keeps one client's bad request from reaching the others. A request is passed on only once its
 * whole body is here, at most MAX_BODY_BYTES, with its length: a body wrangler dev's proxy gets only part
 * of, or whose reading the Worker begins and abandons, wedges that proxy for the next request from anyone
 * (see tracker-worker/body.ts), and a client trickling its body would hold one of the shared upstream
 * sockets all the while. Larger bodies are refused here. Answers are read whole before they are sent on,
 * so a client that does not read its answer holds no upstream socket either. A request whose upstream
 * connection fails before an answer is sent once more on a new connection.
 */

/** Headers that belong to one connection, not to the message (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

/**
 * Headers about how this hop's body was framed or negotiated: the front sends a whole body with its own
 * Content-Length, so a client's Expect (already answered here) and length do not go on.
 */
const BODY_FRAMING = new Set(["content-length", "expect"]);

/** Far above any tracker request (4 KiB) and far below what the Worker reads to refuse a body (1 MiB). */
export const MAX_BODY_BYTES = 64 * 1024;

/** No answer from wrangler dev, nor a byte of one, for this long: it is stuck, and the client is told so. */
const UPSTREAM_IDLE_MS = 30_000;

/**
 * Connections one address may hold at once, and in all. A peer needs one or two; a machine of many peers
 * behind one NAT address a few dozen. Each may hold up to MAX_BODY_BYTES for 10 s at most.
 */
const PER_ADDRESS = 64;
const MAX_CONNECTIONS = 4096;

export interface TrackerFront {
  server: Server;
  close(): Promise<void>;
}

export interface TrackerFrontOptions {
  /** Overrides UPSTREAM_IDLE_MS (tests). */
  upstreamIdleMs?: number;
}

function endToEnd(headers: IncomingHttpHeaders, drop?: Set<string>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && drop?.has(name) !== true && value !== undefined) out[name] = value;
  }
  return out;
}

const unavailable = JSON.stringify({ error: { code: "tracker_unavailable", message: "the local tracker (wrangler dev) did not answer" } });
const tooLarge = JSON.stringify({ error: { code: "body_too_large", message: `request body exceeds ${MAX_BODY_BYTES} bytes` } });

function declaredTooLarge(req: IncomingMessage): boolean {
  return Number(req.headers["content-length"] ?? "0") > MAX_BODY_BYTES;
}

/**
 * 413. With `close`, the connection ends after the answer (the client was told not to send the body, so
 * what follows on it is unknown); otherwise the rest of the body is read and thrown away by Node, as the
 * client may still be sending it and would miss the answer if the connection were reset under it.
 */
function refuseTooLarge(res: ServerResponse, close: boolean): void {
  res.writeHead(413, { "content-type": "application/json", ...(close ? { connection: "close" } : {}) });
  res.end(tooLarge);
}

export function startTrackerFront(host: string, port: number, upstreamPort: number, options: TrackerFrontOptions = {}): Promise<TrackerFront> {
  const upstreamIdleMs = options.upstreamIdleMs ?? UPSTREAM_IDLE_MS;
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });

  const pass = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const clientIp = req.socket.remoteAddress;
    if (clientIp === undefined) {
      res.destroy();
      return;
    }
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    // Whatever CF-Connecting-IP the client sent is replaced, as the edge does.
    const headers = {
      ...endToEnd(req.headers, BODY_FRAMING),
      ...(hasBody ? { "content-length": String(body.length) } : {}),
      // On a dual-stack socket an IPv4 client is ::ffff:a.b.c.d; the edge gives a.b.c.d (the Worker normalises too).
      "cf-connecting-ip": normalizeIp(clientIp) ?? clientIp,
    };
    const unanswered = (): void => {
      if (res.headersSent) return;
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
      res.end(unavailable);
    };
    const send = (retry: boolean): void => {
      let answered = false;
      let timedOut = false;
      // The retry goes on a new connection: the usual failure is a kept-alive one wrangler had just closed.
      const upstream = request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers, agent: retry ? false : agent }, (answer) => {
        answered = true;
        const parts: Buffer[] = [];
        answer.on("data", (part: Buffer) => parts.push(part));
        answer.on("error", () => undefined);
        answer.on("close", () => {
          // Cut off midway: the request may or may not have taken effect, as with no answer at all.
          if (!answer.complete) {
            unanswered();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
          res.end(Buffer.concat(parts));
        });
      });
      upstream.setTimeout(upstreamIdleMs, () => {
        timedOut = true;
        upstream.destroy(new Error("wrangler dev did not answer in time"));
      });
      upstream.on("error", () => {
        if (answered) return;
        // A stuck wrangler dev would only keep the retry waiting as long again.
        if (!retry && !timedOut && !closing) send(true);
        else unanswered();
      });
      upstream.end(body);
    };
    send(false);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (declaredTooLarge(req)) {
      refuseTooLarge(res, false);
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (part: Buffer) => {
      if (refused) return;
      size += part.length;
      if (size > MAX_BODY_BYTES) {
        // A body without a declared length that turns out too large.
        refused = true;
        parts.length = 0;
        refuseTooLarge(res, false);
        return;
      }
      parts.push(part);
    });
    // A client that goes away mid-body leaves nothing behind: nothing was sent upstream yet.
    req.on("error", () => undefined);
    req.on("end", () => {
      if (!refused) pass(req, res, Buffer.concat(parts, size));
    });
  };

  // The headers timeout and the request timeout bound how long a client may take to send its request
  // (checked every second, not Node's default 30 s); one address holds at most PER_ADDRESS connections.
  const server = createServer({ connectionsCheckingInterval: 1000, headersTimeout: 10_000, requestTimeout: 10_000 }, handle);
  limitConnections(server, PER_ADDRESS, MAX_CONNECTIONS);
  let closing = false;
  // A client that waits for 100 Continue before sending a body too large is told 413 instead, and sends nothing.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (declaredTooLarge(req)) {
      refuseTooLarge(res, true);
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
  server.keepAliveTimeout = 5_000;
  // Rendezvous WebSockets (tracker-front-upgrade.ts); closed with the front.
  const upgraded = new Set<Duplex>();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => passUpgrade(req, socket, head, upstreamPort, upgraded));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((done) => {
            // Requests cut off by the close are not sent again: there is nobody to answer any more.
            closing = true;
            server.close(() => done());
            server.closeAllConnections();
            for (const socket of upgraded) socket.destroy();
            agent.destroy();
          }),
      });
    });
  });
}
