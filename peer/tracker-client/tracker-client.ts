import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AnnounceReply, AnnounceRequest, ErrorReply, FileStatsReply, PeersReply } from "../../common/wire.js";
import type { PunchReply, PunchRequest, RelayOffer, RelayOfferReply, RelayReply, ReverseRequest } from "../../common/rendezvous-wire.js";
import { Errors, P2PError } from "../errors.js";

/**
 * Talks to the tracker's HTTP API (docs/protocol.md). Every call has a time limit; a tracker that is down
 * or overloaded becomes a network error, and a 404 for a file becomes "nobody has it". Connections can be
 * made from a chosen local address, which is the address the tracker records for an announce.
 */
export class TrackerClient {
  constructor(
    readonly baseUrl: string,
    private readonly localAddress?: string,
    private readonly timeoutMs = 10_000,
    /**
     * Connect over this address family only (the tracker's host name looked up for it): a dual-stack daemon
     * announces once per family, so that the tracker records both of its addresses (announce-families.ts).
     */
    readonly family?: 4 | 6,
  ) {}

  /** The URL, and the family when one is chosen: how logs and `p2p status` name this client. */
  get label(): string {
    return this.family === undefined ? this.baseUrl : `${this.baseUrl} over IPv${this.family}`;
  }

  announce(sha1: string, body: AnnounceRequest): Promise<AnnounceReply> {
    return this.call<AnnounceReply>("POST", `/v1/files/${sha1}/peers`, JSON.stringify(body));
  }

  /** `signal` ends the request at once: a download that has what it needs does not wait on a slow tracker. */
  peers(sha1: string, limit = 50, signal?: AbortSignal): Promise<PeersReply> {
    return this.call<PeersReply>("GET", `/v1/files/${sha1}/peers?limit=${limit}`, undefined, signal);
  }

  file(sha1: string, signal?: AbortSignal): Promise<FileStatsReply> {
    return this.call<FileStatsReply>("GET", `/v1/files/${sha1}`, undefined, signal);
  }

  /** Asks the tracker to have an unreachable peer dial this machine (docs/protocol.md §1.4). */
  reverse(peerId: string, body: ReverseRequest, signal?: AbortSignal): Promise<{ sent: boolean }> {
    return this.call("POST", `/v1/peers/${encodeURIComponent(peerId)}/reverse`, JSON.stringify(body), signal);
  }

  /** Asks the tracker to line up a simultaneous open with an unreachable peer; the reply is where to aim. */
  punch(peerId: string, body: PunchRequest, signal?: AbortSignal): Promise<PunchReply> {
    return this.call("POST", `/v1/peers/${encodeURIComponent(peerId)}/punch`, JSON.stringify(body), signal);
  }

  /** Asks the tracker for a relay and a token, which the peer is told too. */
  relay(peerId: string, signal?: AbortSignal): Promise<RelayReply> {
    return this.call("POST", `/v1/peers/${encodeURIComponent(peerId)}/relay`, "{}", signal);
  }

  /** Offers this daemon as a relay (`--relay`), or withdraws it (`event: "stopped"`). */
  offerRelay(body: RelayOffer, signal?: AbortSignal): Promise<RelayOfferReply> {
    return this.call("POST", "/v1/relays", JSON.stringify(body), signal);
  }

  private async call<T>(method: string, path: string, body?: string, signal?: AbortSignal): Promise<T> {
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.send(method, path, body, signal));
    } catch (error) {
      if (this.localAddress !== undefined && error instanceof Error && error.message === "EADDRNOTAVAIL") {
        throw Errors.usage(`${this.localAddress} is not an address of this machine: connections cannot be made from it`, "pass one of this machine's addresses to --bind (see `ip addr`), or leave --bind out");
      }
      throw Errors.trackerUnreachable(
        `cannot reach the tracker at ${this.label}: ${error instanceof Error ? error.message : String(error)}`,
        "start one with `p2p tracker`, or pass --tracker <url> (env P2P_TRACKER)",
      );
    }
    if (status >= 200 && status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw Errors.trackerRefused(`the tracker at ${this.baseUrl} sent a reply that is not JSON`);
      }
    }
    let reply: Partial<ErrorReply> = {};
    try {
      reply = JSON.parse(text) as ErrorReply;
    } catch {
      // Not one of ours: a proxy's page, say.
    }
    const code = reply.error?.code ?? `http_${status}`;
    const message = reply.error?.message ?? `HTTP ${status}`;
    if (code === "unknown_file") {
      throw new P2PError("UNKNOWN_HASH", "not_found", `no peer has this file: ${message}`, "check the hash; the sharer's daemon must be running");
    }
    if (status >= 500 || status === 429) {
      throw Errors.trackerUnreachable(`the tracker at ${this.baseUrl} is unavailable (${code}): ${message}`, "try again shortly");
    }
    throw Errors.trackerRefused(`the tracker refused the request (${code}): ${message}`);
  }

  private send(method: string, path: string, body?: string, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.baseUrl);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          timeout: this.timeoutMs,
          ...(signal === undefined ? {} : { signal }),
          ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
          ...(this.family === undefined ? {} : { family: this.family }),
        },
        (res: IncomingMessage) => {
          const parts: Buffer[] = [];
          let size = 0;
          res.on("data", (part: Buffer) => {
            size += part.length;
            if (size > 1024 * 1024) req.destroy(new Error("reply too large"));
            else parts.push(part);
          });
          res.on("error", reject);
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }));
        },
      );
      const deadline = setTimeout(() => req.destroy(new Error("it did not answer in time")), this.timeoutMs);
      req.on("close", () => clearTimeout(deadline));
      req.on("timeout", () => req.destroy(new Error("it did not answer in time")));
      req.on("error", (error: NodeJS.ErrnoException) => reject(new Error(error.code ?? error.message)));
      req.end(body);
    });
  }
}
