import { Agent, request, type ClientRequest } from "node:http";
import { hostPort } from "../../common/ip.js";
import { ChunkSocket, refusal, type ChunkSocketOptions } from "./chunk-socket.js";
import { PeerFault, type FetchLimits } from "./peer-fault.js";

export { PeerFault, type FetchLimits } from "./peer-fault.js";

/**
 * HTTP to one peer. Chunks go over ChunkSockets, straight into pooled buffers; the one other thing a
 * downloader asks for, the manifest, goes over Node's HTTP client with a size cap. Neither lets a peer make
 * us buffer more than we allow, stall past `idleMs`, or take longer than `deadlineMs`.
 */

export interface PeerAddress {
  ip: string;
  port: number;
}

export class PeerConnection {
  readonly key: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private readonly sockets = new Set<ChunkSocket>();

  constructor(
    readonly address: PeerAddress,
    private readonly localAddress?: string,
    /** The download limit and the `P2P-Port` its chunk requests state. */
    private readonly chunkOptions: ChunkSocketOptions = {},
  ) {
    this.key = hostPort(address.ip, address.port);
  }

  /** GETs `path` and resolves with its body, failing if it is not a 200 or passes `maxBytes`. */
  small(path: string, limits: FetchLimits, maxBytes: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let req: ClientRequest | null = null;
      let settled = false;
      const fail = (error: PeerFault): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req?.destroy();
        reject(error);
      };
      const deadline = setTimeout(() => fail(new PeerFault("timeout", `no complete answer within ${limits.deadlineMs} ms`)), limits.deadlineMs);
      req = request({
        host: this.address.ip,
        port: this.address.port,
        path,
        agent: this.agent,
        // The public port we serve on, as chunk requests state it: `/peers` leaves the asker out by it.
        ...(this.chunkOptions.statedPort === undefined ? {} : { headers: { "P2P-Port": String(this.chunkOptions.statedPort) } }),
        ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
      });
      req.setTimeout(limits.idleMs, () => fail(new PeerFault("timeout", `stalled for ${limits.idleMs} ms`)));
      req.on("error", (error) => fail(new PeerFault("network", error.message)));
      req.on("response", (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          const retryAfter = Number(res.headers["retry-after"]);
          fail(
            new PeerFault(refusal(String(res.statusCode)), `answered HTTP ${res.statusCode}`, {
              status: res.statusCode ?? 0,
              retryAfterSec: Number.isInteger(retryAfter) && retryAfter >= 0 ? retryAfter : null,
            }),
          );
          return;
        }
        const parts: Buffer[] = [];
        let received = 0;
        res.on("data", (part: Buffer) => {
          received += part.length;
          if (received > maxBytes) fail(new PeerFault("protocol", `sent more than ${maxBytes} bytes`));
          else parts.push(part);
        });
        res.on("error", (error) => fail(new PeerFault("network", error.message)));
        res.on("aborted", () => fail(new PeerFault("network", "connection closed mid-body")));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve(Buffer.concat(parts));
        });
      });
      req.end();
    });
  }

  /** A chunk, read straight into `target` over a keep-alive connection of this peer's (chunk-socket.ts). */
  chunk(path: string, target: Buffer, expected: number, limits: FetchLimits): { done: Promise<Buffer>; abort: () => void } {
    let socket = [...this.sockets].find((s) => s.idle);
    if (socket === undefined) {
      socket = new ChunkSocket(this.address.ip, this.address.port, this.key, this.localAddress, this.chunkOptions);
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
