import { Agent, request, type ClientRequest } from "node:http";
import { hostPort } from "../../common/ip.js";
import { ChunkSocket } from "./chunk-socket.js";
import { PeerFault, type FetchLimits } from "./peer-fault.js";

export { PeerFault, type FetchLimits } from "./peer-fault.js";

/**
 * HTTP to one peer: a keep-alive connection pool, and requests whose bodies are read into a buffer of the
 * exact expected size. A body that is longer or shorter than promised, a status other than 200, a stall
 * longer than `idleMs` or a total time past `deadlineMs` all fail the request; no peer can make us
 * buffer more than we asked for.
 */

export interface PeerAddress {
  ip: string;
  port: number;
}

export class PeerConnection {
  readonly key: string;
  private readonly agent: Agent;
  private readonly sockets = new Set<ChunkSocket>();

  constructor(
    readonly address: PeerAddress,
    private readonly localAddress?: string,
    maxSockets = 8,
  ) {
    this.key = hostPort(address.ip, address.port);
    this.agent = new Agent({ keepAlive: true, maxSockets, scheduling: "fifo" });
  }

  /**
   * GETs `path` and resolves with exactly `expected` bytes (or up to `maxBytes` when expected is null),
   * read into `target` when given (a pooled buffer), else into a new one.
   */
  get(path: string, expected: number | null, limits: FetchLimits, target?: Buffer, maxBytes = expected ?? 0): { done: Promise<Buffer>; abort: () => void } {
    let req: ClientRequest | null = null;
    let abort = (): void => undefined;
    const done = new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const fail = (error: PeerFault): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req?.destroy();
        reject(error);
      };
      const deadline = setTimeout(() => fail(new PeerFault("network", `no complete answer within ${limits.deadlineMs} ms`)), limits.deadlineMs);
      abort = () => fail(new PeerFault("aborted", "aborted"));
      req = request({
        host: this.address.ip,
        port: this.address.port,
        path,
        agent: this.agent,
        ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
      });
      req.setTimeout(limits.idleMs, () => fail(new PeerFault("network", `stalled for ${limits.idleMs} ms`)));
      req.on("error", (error) => fail(new PeerFault("network", error.message)));
      req.on("response", (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          fail(new PeerFault(res.statusCode === 404 || res.statusCode === 410 ? "network" : "protocol", `answered HTTP ${res.statusCode}`));
          return;
        }
        const declared = res.headers["content-length"] === undefined ? null : Number(res.headers["content-length"]);
        if (expected !== null && declared !== null && declared !== expected) {
          res.destroy();
          fail(new PeerFault("protocol", `promised ${declared} bytes where ${expected} were expected`));
          return;
        }
        const limit = expected ?? Math.min(declared ?? maxBytes, maxBytes);
        const body = target !== undefined && target.length >= limit ? target : Buffer.allocUnsafe(limit);
        let received = 0;
        res.on("data", (part: Buffer) => {
          if (received + part.length > limit) {
            fail(new PeerFault("protocol", `sent more than ${limit} bytes`));
            return;
          }
          part.copy(body, received);
          received += part.length;
        });
        res.on("error", (error) => fail(new PeerFault("network", error.message)));
        res.on("aborted", () => fail(new PeerFault("network", "connection closed mid-body")));
        res.on("end", () => {
          if (settled) return;
          if (expected !== null && received !== expected) {
            fail(new PeerFault("protocol", `sent ${received} bytes where ${expected} were expected`));
            return;
          }
          settled = true;
          clearTimeout(deadline);
          resolve(body.subarray(0, received));
        });
      });
      req.end();
    });
    return { done, abort: () => abort() };
  }

  /** A chunk, read straight into `target` over a keep-alive connection of this peer's (chunk-socket.ts). */
  chunk(path: string, target: Buffer, expected: number, limits: FetchLimits): { done: Promise<Buffer>; abort: () => void } {
    let socket = [...this.sockets].find((s) => s.idle);
    if (socket === undefined) {
      socket = new ChunkSocket(this.address.ip, this.address.port, this.address.ip.includes(":") ? `[${this.address.ip}]` : this.address.ip, this.localAddress);
      this.sockets.add(socket);
    }
    const used = socket;
    const done = used.fetch(path, target, expected, limits).catch((error: unknown) => {
      this.sockets.delete(used);
      throw error;
    });
    return { done, abort: () => used.abort() };
  }

  close(): void {
    this.agent.destroy();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
