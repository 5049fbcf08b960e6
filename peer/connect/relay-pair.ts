import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { pipeline } from "node:stream/promises";
import { OneSocketAgent } from "./one-socket-agent.js";
import { isRelayable, requestHeaders, responseHeaders } from "./relay-route.js";
import { SWITCHING } from "./relay-upgrade.js";

/**
 * One relayed connection: the downloader's socket (role `connect`) and the sharer's (role `accept`), met at
 * this relay. The relay is the HTTP server on the first and the HTTP client on the second, so only requests
 * it understands and allows pass (relay-route.ts), re-written, and answers are streamed back as they come
 * (a chunk is never held whole here). Bytes read from both sides count against the pair's byte cap; the
 * pair also has a time cap and an idle limit. Either side closing closes the other: at once for the
 * downloader (nobody is left to answer), after the answers already received for the sharer.
 */

export interface PairCaps {
  maxBytes: number;
  maxMs: number;
  /** The downloader's socket may be silent this long (a `/have` long-poll holds 10 s; its event stream sends a line at least every 10 s). */
  idleMs: number;
}

/** Requests one downloader may have waiting on the sharer at once (pipelined); more closes the pair. */
const MAX_IN_FLIGHT = 8;
/** How often the byte cap is checked besides on every piece of answer (requests, refusals). */
const CHECK_MS = 1000;
/** A head the relay's server reads from the downloader: ours are a few hundred bytes. */
const MAX_HEADER_SIZE = 8 * 1024;

export class RelayPair {
  private readonly server: Server;
  private readonly agent: OneSocketAgent;
  private readonly baseline: number;
  private readonly heads: [Buffer, Buffer];
  private readonly timers: NodeJS.Timeout[] = [];
  private inFlight = 0;
  private sharerGone = false;
  private closedBy: string | null = null;
  /** Requests the relay answered itself, never passing them on. */
  refused = 0;

  constructor(
    private readonly downloader: Socket,
    downloaderHead: Buffer,
    private readonly sharer: Socket,
    sharerHead: Buffer,
    private readonly caps: PairCaps,
    private readonly onClose: (pair: RelayPair, why: string) => void,
  ) {
    // The upgrade heads were read before the pair began; what came after them counts.
    this.baseline = downloader.bytesRead + sharer.bytesRead - downloaderHead.length - sharerHead.length;
    this.server = createServer({ maxHeaderSize: MAX_HEADER_SIZE, requireHostHeader: false }, (req, res) => this.forward(req, res));
    this.server.on("clientError", (_error, socket) => this.refuseRaw(socket as Socket, 400, "bad_request"));
    // CONNECT and upgrades would hand the raw socket over: never to anyone here.
    this.server.on("connect", (_req, socket) => this.refuseRaw(socket as Socket, 403, "not_relayed"));
    this.server.on("upgrade", (_req, socket) => this.refuseRaw(socket as Socket, 403, "not_relayed"));
    this.server.setTimeout(caps.idleMs, () => this.close("idle"));
    this.agent = new OneSocketAgent(sharer);

    for (const socket of [downloader, sharer]) socket.on("error", () => undefined);
    downloader.once("close", () => this.close("the downloader left"));
    // The relay's sockets allow half-open (an HTTP server's do): the sharer's FIN is its leaving, too.
    sharer.once("end", () => this.sharerClosed());
    sharer.once("close", () => this.sharerClosed());
    const capTimer = setTimeout(() => this.close("time cap"), caps.maxMs);
    const checkTimer = setInterval(() => this.checkBytes(), CHECK_MS);
    capTimer.unref();
    checkTimer.unref();
    this.timers.push(capTimer, checkTimer);

    this.heads = [downloaderHead, sharerHead];
  }

  /** Both sides get their 101 and the carrying begins; a side already gone closes the pair at once. */
  start(): void {
    if (this.downloader.destroyed || this.sharer.destroyed) {
      this.close("a side left before the pair began");
      return;
    }
    const [downloaderHead, sharerHead] = this.heads;
    this.sharer.write(SWITCHING);
    this.downloader.write(SWITCHING);
    // Bytes a side sent right behind its upgrade request are its first HTTP bytes: put back for the parser.
    if (sharerHead.length > 0) this.sharer.unshift(sharerHead);
    if (downloaderHead.length > 0) this.downloader.unshift(downloaderHead);
    this.server.emit("connection", this.downloader);
  }

  /** Bytes read from either side since the pair began. */
  get bytes(): number {
    return this.downloader.bytesRead + this.sharer.bytesRead - this.baseline;
  }

  get closed(): boolean {
    return this.closedBy !== null;
  }

  /** Ends both sides now; timers cleared; may be called again. */
  close(why: string): void {
    if (this.closedBy !== null) return;
    this.closedBy = why;
    for (const timer of this.timers) clearTimeout(timer);
    this.downloader.destroy();
    this.sharer.destroy();
    this.agent.destroy();
    this.onClose(this, why);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    if (this.sharerGone) {
      this.answer(res, 503, "relay_closed", "the sharer's side of this relay is closed", true);
      return;
    }
    if (!isRelayable(req.method, req.url, req.headers)) {
      // A request with a body is not read on: its bytes would only count against the pair.
      const body = req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] ?? "0") !== "0";
      this.answer(res, 403, "not_relayed", "a relay carries only GET and HEAD of the public file routes", body);
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.close("too many requests at once");
      return;
    }
    this.inFlight++;
    res.once("close", () => {
      this.inFlight--;
      if (this.sharerGone && this.inFlight === 0) this.endDownloader();
    });
    const out = request({ agent: this.agent, method: req.method, path: req.url, headers: { host: "relay", ...requestHeaders(req) } });
    out.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, responseHeaders(answer.headers));
      answer.on("data", () => this.checkBytes());
      pipeline(answer, res).catch(() => this.close("an answer was cut off"));
    });
    out.on("error", () => this.close("the sharer's side failed"));
    out.end();
  }

  private answer(res: ServerResponse, status: number, code: string, message: string, close: boolean): void {
    this.refused++;
    const body = JSON.stringify({ error: { code, message } });
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...(close ? { Connection: "close" } : {}) });
    res.end(body);
  }

  /** An answer on the raw socket (the HTTP server gave it up: a parse error, CONNECT, an upgrade), then the end. */
  private refuseRaw(socket: Socket, status: number, code: string): void {
    this.refused++;
    const body = JSON.stringify({ error: { code, message: "refused by the relay" } });
    const reason = status === 400 ? "Bad Request" : "Forbidden";
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, () => this.close(code));
    }
    const fallback = setTimeout(() => this.close(code), 1000);
    fallback.unref();
    this.timers.push(fallback);
  }

  private sharerClosed(): void {
    if (this.sharerGone) return;
    this.sharerGone = true;
    if (this.inFlight === 0) this.endDownloader();
  }

  /** The sharer left with every answer received: the downloader gets them all, then the end. */
  private endDownloader(): void {
    if (this.closedBy !== null) return;
    this.downloader.end(() => this.close("the sharer left"));
    const fallback = setTimeout(() => this.close("the sharer left"), 1000);
    fallback.unref();
    this.timers.push(fallback);
  }

  private checkBytes(): void {
    if (this.closedBy === null && this.bytes > this.caps.maxBytes) this.close("byte cap");
  }
}
