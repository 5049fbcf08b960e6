import { Agent, request, type ClientRequest } from "node:http";
import type { Socket } from "node:net";
import { hostPort } from "../../common/ip.js";
import type { PeerPath } from "../../common/rendezvous-wire.js";
import { DialAgent } from "../connect/dial-agent.js";
import type { Dialer } from "../connect/dialer.js";
import { ChunkSocket, refusal, type ChunkSocketOptions } from "./chunk-socket.js";
import { eventsBody, wholeBody, type BodySink } from "./body-sink.js";
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

/**
 * One peer, reached at one address at a time. A peer listed under an IPv6 and an IPv4 address (a dual-stack
 * daemon, sources/family-preference.ts) has the other as an alternate: when the address in use fails before
 * any connection to it was ever made (refused, unreachable, no route), the next one is used from then on and
 * the request is tried once more there, Happy-Eyeballs-like, IPv6 first. Its key stays the first address's.
 *
 * A peer that cannot be dialled is reached through a Dialer (peer/connect/): every connection to it is the
 * dialer's, the same requests go over it, and only `path` tells how.
 */
/**
 * Connections at once to a peer reached through a Dialer: each costs a tracker order and, relayed, one of the
 * relay's pairs (8 per address by default), so a downloader's window shares a few rather than opening one per
 * request: 2 for chunks (what a peer in a swarm is asked at once anyway) and 2 for the small requests
 * (manifest, `/have`, `/peers`), at most 4 in all.
 */
const MAX_DIALLED_CHUNK_SOCKETS = 2;
const MAX_DIALLED_SMALL_SOCKETS = 2;

export class PeerConnection {
  readonly key: string;
  /** Stops dials on their way when the connection closes. */
  private readonly closing = new AbortController();
  private agent: Agent;
  private readonly sockets = new Set<ChunkSocket>();
  private readonly addresses: PeerAddress[];
  private current = 0;
  /** A connection to the address in use was made once: it is the way to this peer, kept. */
  private reached = false;

  constructor(
    address: PeerAddress,
    private readonly localAddress?: string,
    /** The download limit and the `P2P-Port` its chunk requests state. */
    chunkOptions: ChunkSocketOptions = {},
    alternates: readonly PeerAddress[] = [],
    /** How to reach the peer when its address cannot be dialled; its address then only names it. */
    private readonly dialer?: Dialer,
  ) {
    this.key = hostPort(address.ip, address.port);
    this.addresses = [address, ...alternates];
    // Every read is also this peer's: the first one is its time to first byte (`--json` firstByteMs).
    this.chunkOptions = {
      ...chunkOptions,
      onRead: (bytes) => {
        this.firstByteAt ??= Date.now();
        chunkOptions.onRead?.(bytes);
      },
    };
    this.agent = this.newAgent();
  }

  private readonly chunkOptions: ChunkSocketOptions;
  /** When the first byte of file data came from this peer; null before. */
  firstByteAt: number | null = null;
  /** Its port is a mapping on its router (a tracker said `mapped`): reported as the path of a direct dial. */
  mapped = false;

  /** How the peer is reached (what `--json` reports): the dialer's path, else `direct` (or `mapped`). */
  get path(): PeerPath {
    return this.dialer?.path ?? (this.mapped ? "mapped" : "direct");
  }

  private newAgent(): Agent {
    return this.dialer === undefined ? new Agent({ keepAlive: true, maxSockets: 2 }) : new DialAgent(this.dialer, this.closing.signal, MAX_DIALLED_SMALL_SOCKETS);
  }

  /** The address in use (what `--json` reports). */
  get address(): PeerAddress {
    return this.addresses[this.current]!;
  }

  /** Another address of the same peer, tried if those before it fail before connecting. */
  addAlternate(address: PeerAddress): void {
    if (this.addresses.some((a) => a.ip === address.ip && a.port === address.port)) return;
    this.addresses.push(address);
  }

  /** Moves to the next address after a failure that never connected; false when there is none or one worked. */
  private fallBack(): boolean {
    // A dialer is the one way to its peer: its addresses are not dialled.
    if (this.dialer !== undefined || this.reached || this.current + 1 >= this.addresses.length) return false;
    this.current++;
    this.agent.destroy();
    this.agent = this.newAgent();
    return true;
  }

  /** GETs `path` and resolves with its body, failing if it is not a 200 or passes `maxBytes`. */
  small(path: string, limits: FetchLimits, maxBytes: number): Promise<Buffer> {
    return this.get(path, limits, () => wholeBody(maxBytes));
  }

  /**
   * GETs an event stream (`text/event-stream`) and hands `onEvent` each event's data as it comes, until the
   * peer ends it or `onEvent` returns false; an answer of another type (a peer that does not stream) is one
   * event, its whole body. Fails on an event past `maxEventBytes`, and like `small` otherwise.
   */
  async events(path: string, limits: FetchLimits, maxEventBytes: number, onEvent: (data: string) => boolean): Promise<void> {
    await this.get(path, limits, (contentType) => eventsBody(contentType, maxEventBytes, onEvent));
  }

  /** A GET on the address in use, moving to the next address when one never connects. */
  private async get<T>(path: string, limits: FetchLimits, sink: (contentType: string) => BodySink<T>): Promise<T> {
    for (;;) {
      const tried = this.current;
      try {
        return await this.getAt(path, limits, sink);
      } catch (error) {
        if (!(error instanceof NotConnected) || (tried === this.current && !this.fallBack())) throw error instanceof NotConnected ? error.fault : error;
      }
    }
  }

  private getAt<T>(path: string, limits: FetchLimits, makeSink: (contentType: string) => BodySink<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let req: ClientRequest | null = null;
      let settled = false;
      let connected = false;
      const fail = (error: PeerFault): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req?.destroy();
        reject(connected || error.kind === "aborted" ? error : new NotConnected(error));
      };
      const deadline = setTimeout(() => fail(new PeerFault("timeout", `no complete answer within ${limits.deadlineMs} ms`)), limits.deadlineMs);
      req = request({
        host: this.address.ip,
        port: this.address.port,
        path,
        agent: this.agent,
        // The public port we serve on, as chunk requests state it: `/peers` leaves the asker out by it (not
        // on a punched socket: see dialledChunk).
        ...(this.chunkOptions.statedPort === undefined || this.dialer?.path === "punched" ? {} : { headers: { "P2P-Port": String(this.chunkOptions.statedPort) } }),
        ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
      });
      req.on("socket", (socket) => {
        // A pooled socket is connected already; a new one says so when it connects.
        if (!socket.connecting) connected = true;
        else socket.once("connect", () => (connected = true));
      });
      req.on("response", () => (this.reached = true));
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
        const sink = makeSink(String(res.headers["content-type"] ?? ""));
        const finish = (): void => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          try {
            resolve(sink.end());
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        };
        res.on("data", (part: Buffer) => {
          if (settled) return;
          let next: "more" | "stop";
          try {
            next = sink.part(part);
          } catch (error) {
            fail(error instanceof PeerFault ? error : new PeerFault("protocol", error instanceof Error ? error.message : String(error)));
            return;
          }
          if (next === "stop") {
            finish();
            req?.destroy();
          }
        });
        res.on("error", (error) => fail(new PeerFault("network", error.message)));
        res.on("aborted", () => fail(new PeerFault("network", "connection closed mid-body")));
        res.on("end", finish);
      });
      req.end();
    });
  }

  /** A chunk, read straight into `target` over a keep-alive connection of this peer's (chunk-socket.ts). */
  chunk(path: string, target: Buffer, expected: number, limits: FetchLimits): { done: Promise<Buffer>; abort: () => void } {
    if (this.dialer !== undefined) return this.dialledChunk(this.dialer, path, target, expected, limits);
    let aborted = false;
    let used = this.socketFor();
    const attempt = (socket: ChunkSocket): Promise<Buffer> =>
      socket.fetch(path, target, expected, limits).then(
        (body) => {
          this.reached = true;
          return body;
        },
        (error: unknown) => {
          this.sockets.delete(socket);
          if (socket.connected) this.reached = true;
          // Never connected to this address: the peer's next one, once (a peer with one address fails as before).
          const tried = this.addressOf(socket);
          if (!aborted && !socket.connected && (tried !== this.current || this.fallBack())) {
            used = this.socketFor();
            return attempt(used);
          }
          throw error;
        },
      );
    const done = attempt(used);
    return {
      done,
      abort: () => {
        aborted = true;
        used.abort();
      },
    };
  }

  /**
   * A chunk over an idle dialled connection, or a new one: the dial counts against the request's deadline,
   * as a TCP connect does on the direct path.
   */
  private dialledChunk(dialer: Dialer, path: string, target: Buffer, expected: number, limits: FetchLimits): { done: Promise<Buffer>; abort: () => void } {
    const started = Date.now();
    const stop = new AbortController();
    let used = [...this.sockets].find((s) => s.idle) ?? null;
    const run = async (): Promise<Buffer> => {
      const signal = AbortSignal.any([stop.signal, this.closing.signal]);
      // Each dialled socket costs a tracker order (and a relay pair): at most MAX_DIALLED_CHUNK_SOCKETS per
      // peer; a request beyond them waits for one of them to be free (or to close), within its own deadline.
      while (used === null && this.sockets.size + this.dialling >= MAX_DIALLED_CHUNK_SOCKETS) {
        await this.socketFreed(Math.max(1, limits.deadlineMs - (Date.now() - started)), signal);
        used = [...this.sockets].find((s) => s.idle) ?? null;
      }
      if (used === null) {
        this.dialling++;
        try {
          const socket = await dialWithin(dialer, Math.max(1, limits.deadlineMs - (Date.now() - started)), signal);
          // A punched downloader is not reachable at its public port: no `P2P-Port`, or the peer's exchange
          // would hand others an address that does not answer (a relay drops the header itself).
          const { statedPort: _stated, ...unstated } = this.chunkOptions;
          const options = dialer.path === "punched" ? unstated : this.chunkOptions;
          const chunkSocket = ChunkSocket.over(socket, hostPort(this.address.ip, this.address.port), options);
          // Closed by the peer while idle (its keep-alive timeout, a relay's caps): no longer counted, and a
          // request waiting for a free socket may dial a new one.
          socket.once("close", () => {
            this.sockets.delete(chunkSocket);
            this.wakeOne();
          });
          used = chunkSocket;
        } finally {
          this.dialling--;
          this.wakeOne();
        }
        this.sockets.add(used);
        this.reached = true;
      }
      const socket = used;
      const deadlineMs = Math.max(1, limits.deadlineMs - (Date.now() - started));
      return socket
        .fetch(path, target, expected, { idleMs: limits.idleMs, deadlineMs })
        .catch((error: unknown) => {
          this.sockets.delete(socket);
          throw error;
        })
        .finally(() => this.wakeOne());
    };
    return {
      done: run(),
      abort: () => {
        stop.abort();
        used?.abort();
      },
    };
  }

  /** Dials on their way, and requests waiting for a dialled socket to be free (MAX_DIALLED_CHUNK_SOCKETS). */
  private dialling = 0;
  private readonly freed: (() => void)[] = [];

  private wakeOne(): void {
    this.freed.shift()?.();
  }

  private socketFreed(withinMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        const at = this.freed.indexOf(done);
        if (at !== -1) this.freed.splice(at, 1);
      };
      const onAbort = (): void => {
        done();
        reject(new PeerFault("aborted", "aborted"));
      };
      const timer = setTimeout(() => {
        done();
        reject(new PeerFault("timeout", `no connection to the peer was free within ${withinMs} ms`));
      }, withinMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.freed.push(() => {
        done();
        resolve();
      });
    });
  }

  private readonly socketAddress = new WeakMap<ChunkSocket, number>();

  private addressOf(socket: ChunkSocket): number {
    return this.socketAddress.get(socket) ?? this.current;
  }

  private socketFor(): ChunkSocket {
    let socket = [...this.sockets].find((s) => s.idle);
    if (socket === undefined) {
      const { ip, port } = this.address;
      socket = new ChunkSocket(ip, port, hostPort(ip, port), this.localAddress, this.chunkOptions);
      this.socketAddress.set(socket, this.current);
      this.sockets.add(socket);
    }
    return socket;
  }

  close(): void {
    this.closing.abort();
    this.agent.destroy();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** A dialler's connection within `timeoutMs`, or a PeerFault: `aborted` on `signal`, `timeout`, else `network`. */
async function dialWithin(dialer: Dialer, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), timeoutMs);
  const stopped = AbortSignal.any([signal, giveUp.signal]);
  let onStop = (): void => undefined;
  // A dialer that does not heed its signal is not waited for: its late socket is closed.
  const halted = new Promise<never>((_resolve, reject) => {
    onStop = () => reject(signal.aborted ? new PeerFault("aborted", "aborted") : new PeerFault("timeout", `no connection ${dialer.path} within ${timeoutMs} ms`));
    stopped.addEventListener("abort", onStop, { once: true });
  });
  const dialling = dialer.dial(stopped);
  dialling.then((socket) => (stopped.aborted ? socket.destroy() : undefined), () => undefined);
  try {
    return await Promise.race([
      dialling.catch((error: unknown) => {
        throw new PeerFault("network", `no connection ${dialer.path}: ${error instanceof Error ? error.message : String(error)}`);
      }),
      halted,
    ]);
  } catch (error) {
    if (stopped.aborted) throw await halted.catch((why: unknown) => why);
    throw error;
  } finally {
    clearTimeout(timer);
    stopped.removeEventListener("abort", onStop);
  }
}

/** A failure before any connection was made to the address tried: the caller may try the peer's next one. */
class NotConnected extends Error {
  constructor(readonly fault: PeerFault) {
    super(fault.message);
  }
}
