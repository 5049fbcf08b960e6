import { connect, type Socket } from "node:net";
import type { RateLimiter } from "../net/rate-limiter.js";
import { PeerFault, type FetchLimits } from "./peer-fault.js";

/**
 * One keep-alive HTTP/1.1 connection to a peer, for chunk GETs only, that reads each body straight into
 * the caller's (pooled) buffer: the kernel copies the bytes into place and nothing is allocated per read,
 * so a fast download makes no garbage and memory stays flat. It understands exactly what a peer must send:
 * `200` with a `Content-Length` equal to the chunk's size; anything else (another status, another length,
 * chunked encoding, a byte more than promised) fails the request and closes the connection.
 *
 * Under a download limit every read is paid to the limiter, reads are at most a slice, and the socket is
 * paused while the limiter is in debt; the request's time limits stop while it is paused by us, since the
 * peer is not the one being slow then.
 *
 * A connection made another way (reversed, punched, relayed: peer/connect/) is handed over connected
 * (`ChunkSocket.over`). Its bytes cannot be read into place (`onread` is an option of the socket's creation),
 * so each read is copied there from Node's buffer: one copy more, with every check and limit the same.
 */

const HEAD_LIMIT = 16 * 1024;
const HEAD_END = Buffer.from("\r\n\r\n");

type State = "idle" | "head" | "body";

interface Pending {
  target: Buffer;
  expected: number;
  resolve: (body: Buffer) => void;
  reject: (error: PeerFault) => void;
  /** Running while the socket reads; cleared, with what is left of the time limit kept, while it is paused. */
  deadline: NodeJS.Timeout | null;
  deadlineLeftMs: number;
  armedAt: number;
}

/** What a download's sockets share: its limiter, the public port it tells peers (`P2P-Port`), a byte count. */
export interface ChunkSocketOptions {
  limiter?: RateLimiter;
  statedPort?: number;
  /** Told the size of every read from the peer (a daemon's `downloadedBytes`). */
  onRead?: (bytes: number) => void;
}

/** A status an honest peer may send (gone, busy, failing) is a network fault; any other is a broken protocol. */
export function refusal(status: string): "network" | "protocol" {
  return status === "404" || status === "410" || status === "429" || status.startsWith("5") ? "network" : "protocol";
}

export class ChunkSocket {
  private readonly socket: Socket;
  private readonly head = Buffer.allocUnsafe(HEAD_LIMIT);
  private headLength = 0;
  private received = 0;
  private state: State = "idle";
  private pending: Pending | null = null;
  private reusable = true;
  private closed = false;
  /** Paused by the download limit (not by the peer). */
  private paused = false;
  private idleMs = 0;
  private deadlineMs = 0;
  private readonly extraHeaders: string;
  /** Whether the TCP connection was ever made: a failure before it says the address is no way to the peer. */
  connected = false;

  constructor(
    /** Where to connect, or a connection made already (see `over`). */
    host: string | Socket,
    port: number,
    /** host:port for the Host header, with brackets around IPv6. */
    private readonly hostHeader: string,
    localAddress?: string,
    private readonly options: ChunkSocketOptions = {},
  ) {
    this.extraHeaders = options.statedPort === undefined ? "" : `P2P-Port: ${options.statedPort}\r\n`;
    if (typeof host === "string") {
      this.socket = connect({
        host,
        port,
        ...(localAddress === undefined ? {} : { localAddress }),
        onread: {
          buffer: () => this.readBuffer(),
          callback: (bytes: number) => {
            this.options.onRead?.(bytes);
            this.onBytes(bytes);
            return this.options.limiter?.limited === true ? this.paceRead(this.options.limiter, bytes) : true;
          },
        },
      });
      this.socket.once("connect", () => (this.connected = true));
    } else {
      this.socket = host;
      this.connected = true;
      this.closed = host.destroyed;
      this.socket.on("data", (data: Buffer) => this.onData(data));
      // A handshake may have left it paused (connect/read-head.ts), which a `data` listener does not undo.
      this.socket.resume();
    }
    this.socket.setNoDelay(true);
    this.socket.on("error", (error) => this.fail(new PeerFault("network", error.message)));
    this.socket.on("close", () => {
      this.closed = true;
      this.fail(new PeerFault("network", "connection closed"));
    });
    // A socket a server accepted (a reversed one, from our public server) allows half-open connections: the
    // peer's end of sending is the end of this connection, or an idle one would look alive to the next request.
    this.socket.on("end", () => this.socket.destroy());
    this.socket.on("timeout", () => this.fail(new PeerFault("timeout", "stalled")));
  }

  /** Chunk GETs over a connection made already (a reversed, punched or relayed socket after its handshake). */
  static over(socket: Socket, hostHeader: string, options: ChunkSocketOptions = {}): ChunkSocket {
    return new ChunkSocket(socket, 0, hostHeader, undefined, options);
  }

  /** Whether this connection can take another request. */
  get idle(): boolean {
    return this.state === "idle" && this.reusable && !this.closed;
  }

  fetch(path: string, target: Buffer, expected: number, limits: FetchLimits): Promise<Buffer> {
    if (!this.idle) return Promise.reject(new PeerFault("network", "connection not reusable"));
    if (target.length < expected) return Promise.reject(new Error("target buffer too small"));
    return new Promise<Buffer>((resolve, reject) => {
      this.pending = { target, expected, resolve, reject, deadline: null, deadlineLeftMs: limits.deadlineMs, armedAt: 0 };
      this.state = "head";
      this.headLength = 0;
      this.received = 0;
      this.idleMs = limits.idleMs;
      this.deadlineMs = limits.deadlineMs;
      if (!this.paused) this.startClocks();
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${this.extraHeaders}Connection: keep-alive\r\n\r\n`);
    });
  }

  /** Gives up the request in flight, if any, and the connection. */
  abort(): void {
    this.fail(new PeerFault("aborted", "aborted"));
  }

  destroy(): void {
    this.reusable = false;
    this.socket.destroy();
  }

  private readBuffer(): Buffer {
    // The body goes straight into its destination; headers (and anything unexpected) into our own buffer.
    const limiter = this.options.limiter;
    if (this.state === "body" && this.pending !== null) {
      const end = limiter?.limited === true ? Math.min(this.pending.expected, this.received + limiter.slice) : this.pending.expected;
      return this.pending.target.subarray(this.received, end);
    }
    return this.head.subarray(this.headLength);
  }

  /**
   * A read of a handed-over socket: copied into where `onread` would have put it, piece by piece (a piece
   * ends where the head buffer or the body does), then paid to the limiter like a read of our own.
   */
  private onData(data: Buffer): void {
    this.options.onRead?.(data.length);
    for (let offset = 0; offset < data.length && !this.socket.destroyed; ) {
      const into = this.readBuffer();
      const bytes = data.copy(into, 0, offset, offset + Math.min(into.length, data.length - offset));
      if (bytes === 0) return this.fail(new PeerFault("protocol", "response headers too large"));
      offset += bytes;
      this.onBytes(bytes);
    }
    const limiter = this.options.limiter;
    if (limiter?.limited === true && !this.paceRead(limiter, data.length)) this.socket.pause();
  }

  private onBytes(bytes: number): void {
    if (this.state === "body") {
      this.received += bytes;
      if (this.received === this.pending?.expected) this.complete();
      return;
    }
    if (this.state === "idle") {
      this.fail(new PeerFault("protocol", "sent bytes nobody asked for"));
      return;
    }
    this.headLength += bytes;
    const end = this.head.subarray(0, this.headLength).indexOf(HEAD_END);
    if (end < 0) {
      if (this.headLength >= HEAD_LIMIT) this.fail(new PeerFault("protocol", "response headers too large"));
      return;
    }
    this.parseHead(end);
  }

  private parseHead(end: number): void {
    const pending = this.pending;
    if (pending === null) return;
    const lines = this.head.toString("latin1", 0, end).split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (status === null) return this.fail(new PeerFault("protocol", "not an HTTP response"));
    let length: number | null = null;
    let retryAfterSec: number | null = null;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = /^\d{1,15}$/.test(value) ? Number(value) : -1;
      else if (name === "transfer-encoding") return this.fail(new PeerFault("protocol", "chunked bodies are not expected"));
      else if (name === "connection" && value.toLowerCase() === "close") this.reusable = false;
      else if (name === "retry-after" && /^\d{1,4}$/.test(value)) retryAfterSec = Number(value);
    }
    if (status[1] !== "200") {
      this.reusable = false;
      return this.fail(new PeerFault(refusal(status[1] ?? ""), `answered HTTP ${status[1]}`, { status: Number(status[1]), retryAfterSec }));
    }
    // The manifest fixes every chunk's length: an answer that promises another (or none) is a lie.
    if (length !== pending.expected) {
      return this.fail(new PeerFault("lie", `promised ${length === null ? "no length" : `${length} bytes`} where ${pending.expected} were expected`));
    }
    const bodyStart = end + HEAD_END.length;
    const early = this.headLength - bodyStart;
    if (early > pending.expected) return this.fail(new PeerFault("lie", `sent more than ${pending.expected} bytes`));
    this.head.copy(pending.target, 0, bodyStart, this.headLength);
    this.received = early;
    this.state = "body";
    if (this.received === pending.expected) this.complete();
  }

  /** Pays for a read; when the limiter is in debt, pauses reading (returns false) until it is paid. */
  private paceRead(limiter: RateLimiter, bytes: number): boolean {
    const turn = limiter.charge(bytes);
    if (turn === null || this.closed) return true;
    this.paused = true;
    this.stopClocks();
    void turn.then(() => {
      this.paused = false;
      if (this.closed) return;
      if (this.pending !== null) this.startClocks();
      this.socket.resume();
    });
    return false;
  }

  /** The request's stall and deadline limits, counting from now. */
  private startClocks(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.socket.setTimeout(this.idleMs);
    pending.armedAt = Date.now();
    pending.deadline = setTimeout(() => this.fail(new PeerFault("timeout", `no complete answer within ${this.deadlineMs} ms`)), pending.deadlineLeftMs);
  }

  private stopClocks(): void {
    this.socket.setTimeout(0);
    const pending = this.pending;
    if (pending === null || pending.deadline === null) return;
    clearTimeout(pending.deadline);
    pending.deadline = null;
    pending.deadlineLeftMs = Math.max(1, pending.deadlineLeftMs - (Date.now() - pending.armedAt));
  }

  private complete(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.stopClocks();
    this.pending = null;
    this.state = "idle";
    this.headLength = 0;
    pending.resolve(pending.target.subarray(0, pending.expected));
  }

  private fail(error: PeerFault): void {
    const pending = this.pending;
    this.pending = null;
    this.reusable = false;
    this.state = "idle";
    if (!this.closed) this.socket.destroy();
    if (pending === null) return;
    if (pending.deadline !== null) clearTimeout(pending.deadline);
    pending.reject(error);
  }
}
