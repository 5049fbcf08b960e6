import { createServer, type IncomingMessage, type Server } from "node:http";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { REVERSE_UPGRADE, SECRET_PATTERN } from "../../common/rendezvous-wire.js";
import { ConnectError } from "./connect-error.js";

/**
 * The downloader's side (A) of the handshake: the nonces it asked the tracker to pass on, each waiting for
 * the socket its peer opens with it. A reversed socket arrives on the public port (the public server's
 * `upgrade` event, `upgrade` below); a punched one is a socket A opened itself (`acceptOn`), whose request is
 * parsed by a server that never listens, into the same `upgrade`: one judge for both. Only a socket that
 * names a nonce awaited, from the peer it was asked of, gets the 101; any other gets a 403 and is closed.
 * After the 101, A is the HTTP client on the socket (PeerConnection through a Dialer).
 */

/** Handshakes awaited at once: each is a tracker request of ours, so a few dozen is plenty. */
const DEFAULT_MAX_PENDING = 64;
/** The handshake request is a few short lines: a head past this is not one. */
const MAX_REQUEST_HEAD = 4096;

const SWITCHING = `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${REVERSE_UPGRADE}\r\n\r\n`;
const FORBIDDEN = "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

interface Waiter {
  peerId: string;
  resolve: (socket: Socket) => void;
  reject: (error: ConnectError) => void;
}

export class PendingHandshakes {
  private readonly waiters = new Map<string, Waiter>();
  /** Sockets given to `acceptOn`: told at once why theirs failed, rather than at their timeout. */
  private readonly accepting = new WeakMap<Duplex, (error: ConnectError) => void>();
  private readonly parser: Server;

  constructor(private readonly maxPending = DEFAULT_MAX_PENDING) {
    this.parser = createServer({ maxHeaderSize: MAX_REQUEST_HEAD });
    this.parser.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.upgrade(req, socket, head)) this.refuse(socket, new ConnectError("HANDSHAKE_INVALID", `not a ${REVERSE_UPGRADE} upgrade`));
    });
    this.parser.on("request", (req: IncomingMessage) => this.refuse(req.socket, new ConnectError("HANDSHAKE_INVALID", "a request that is not the handshake")));
    this.parser.on("clientError", (error: Error, socket: Duplex) => this.refuse(socket, new ConnectError("HANDSHAKE_INVALID", `not a handshake: ${error.message}`), false));
  }

  /** How many handshakes are awaited now. */
  get size(): number {
    return this.waiters.size;
  }

  /**
   * Resolves with the socket that `peerId` opens with `nonce`, within `timeoutMs`. Rejects HANDSHAKE_BUSY when
   * too many are awaited (or the nonce already is), HANDSHAKE_TIMEOUT, or CONNECT_ABORTED on `signal`.
   */
  expect(peerId: string, nonce: string, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
    if (!SECRET_PATTERN.test(nonce)) return Promise.reject(new ConnectError("HANDSHAKE_INVALID", "a nonce is 32 lowercase hex characters"));
    if (this.waiters.has(nonce)) return Promise.reject(new ConnectError("HANDSHAKE_BUSY", "that nonce is awaited already"));
    if (this.waiters.size >= this.maxPending) return Promise.reject(new ConnectError("HANDSHAKE_BUSY", `${this.maxPending} handshakes are awaited already`));
    if (signal?.aborted === true) return Promise.reject(new ConnectError("CONNECT_ABORTED", "aborted"));
    return new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => settle(new ConnectError("HANDSHAKE_TIMEOUT", `${peerId} did not open a connection within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => settle(new ConnectError("CONNECT_ABORTED", "aborted"));
      const settle = (outcome: Socket | ConnectError): void => {
        if (this.waiters.get(nonce) !== waiter) return;
        this.waiters.delete(nonce);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (outcome instanceof ConnectError) reject(outcome);
        else resolve(outcome);
      };
      const waiter: Waiter = { peerId, resolve: settle, reject: settle };
      this.waiters.set(nonce, waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * For the public server's `upgrade` event: false if the request is no `p2p-reverse/1` upgrade (not ours to
   * answer); otherwise true, and the socket got its 101 (and went to its waiter) or a 403 and was closed.
   */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (req.headers.upgrade?.toLowerCase() !== REVERSE_UPGRADE) return false;
    const nonce = header(req, "p2p-nonce");
    const waiter = nonce === undefined ? undefined : this.waiters.get(nonce);
    const why =
      req.method !== "GET" || (req.url ?? "") !== "/v1/reverse"
        ? "the handshake is GET /v1/reverse"
        : waiter === undefined
          ? "no handshake is awaited with that nonce"
          : waiter.peerId !== header(req, "p2p-peer")
            ? "the nonce was given to another peer"
            : // The opener waits for our 101 before it says more: bytes past its request are out of turn.
              head.length > 0 || !(socket instanceof Socket)
              ? "bytes sent out of turn"
              : null;
    if (why !== null || waiter === undefined || !(socket instanceof Socket)) {
      this.refuse(socket, new ConnectError("HANDSHAKE_REFUSED", `handshake refused: ${why}`, 403));
      return true;
    }
    // The public server's idle limit was for a client of ours; from here on we are the client, with our own.
    socket.setTimeout(0);
    socket.write(SWITCHING);
    this.accepting.delete(socket);
    waiter.resolve(socket);
    return true;
  };

  /**
   * The handshake on a socket A opened itself (a punched one): B's request is read from it and judged as on
   * the public port. Resolves with the socket after the 101; rejects (and closes it) on anything else.
   */
  acceptOn(socket: Socket, peerId: string, nonce: string, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
    const waiting = this.expect(peerId, nonce, timeoutMs, signal);
    let onClose = (): void => undefined;
    const failed = new Promise<never>((_resolve, reject) => {
      onClose = () => reject(new ConnectError("HANDSHAKE_CLOSED", "connection closed during the handshake"));
      this.accepting.set(socket, reject);
    });
    socket.once("close", onClose);
    const done = (): void => {
      socket.off("close", onClose);
      this.accepting.delete(socket);
    };
    this.parser.emit("connection", socket);
    return Promise.race([waiting, failed]).then(
      (accepted) => {
        done();
        // The nonce's waiter was answered by another socket (the same peer came in on the public port too):
        // this one is not used, and must not stay with the parser.
        if (accepted !== socket) socket.destroy();
        return accepted;
      },
      (error: unknown) => {
        done();
        this.cancel(nonce, error instanceof ConnectError ? error : new ConnectError("HANDSHAKE_CLOSED", String(error)));
        socket.destroy();
        throw error;
      },
    );
  }

  /** Rejects every waiter (CONNECT_ABORTED): the daemon is stopping. */
  close(): void {
    for (const nonce of [...this.waiters.keys()]) this.cancel(nonce, new ConnectError("CONNECT_ABORTED", "stopping"));
  }

  private cancel(nonce: string, error: ConnectError): void {
    this.waiters.get(nonce)?.reject(error);
  }

  /** A 403 (unless the bytes were not HTTP at all), then closed; an `acceptOn` caller learns why. */
  private refuse(socket: Duplex, error: ConnectError, answer = true): void {
    this.accepting.get(socket)?.(error);
    this.accepting.delete(socket);
    if (answer && socket.writable) socket.end(FORBIDDEN, () => socket.destroy());
    else socket.destroy();
    // A peer that never reads what it is sent must not keep the socket open.
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}
