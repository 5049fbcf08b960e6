import type { Socket } from "node:net";
import { hostPort } from "../../common/ip.js";
import { DERIVED_PEER_ID, REVERSE_UPGRADE, SECRET_PATTERN } from "../../common/rendezvous-wire.js";
import { ConnectError } from "./connect-error.js";
import { readHead } from "./read-head.js";

/**
 * The unreachable peer's side (B) of the handshake on a reversed or punched socket (docs/protocol.md §2.7):
 * it speaks first, naming the nonce the tracker gave it and its own peer id, and waits for the 101. After
 * that the other side is the HTTP client, and the caller hands the socket, at once, to its public server
 * (servePeerSocket): bytes that came with the 101 are kept for it.
 */

/** What a 101 answer may take: a few lines; anything larger is not the answer. */
const MAX_ANSWER_BYTES = 4096;

export interface HandshakeOffer {
  nonce: string;
  /** Our own peer id (derived from our key, so that only we hold the tracker socket that was told the nonce). */
  peerId: string;
}

export async function offerHandshake(socket: Socket, offer: HandshakeOffer, timeoutMs: number): Promise<Socket> {
  if (!SECRET_PATTERN.test(offer.nonce) || !DERIVED_PEER_ID.test(offer.peerId)) {
    socket.destroy();
    throw new ConnectError("HANDSHAKE_INVALID", "a handshake needs a 32-hex nonce and a derived peer id");
  }
  const started = Date.now();
  if (socket.connecting) await connected(socket, timeoutMs);
  const host = hostPort(socket.remoteAddress ?? "", socket.remotePort ?? 0);
  socket.write(
    `GET /v1/reverse HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${REVERSE_UPGRADE}\r\n` +
      `P2P-Nonce: ${offer.nonce}\r\nP2P-Peer: ${offer.peerId}\r\n\r\n`,
  );
  const head = await readHead(socket, MAX_ANSWER_BYTES, Math.max(1, timeoutMs - (Date.now() - started)));
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(head.line);
  if (status === null) {
    socket.destroy();
    throw new ConnectError("HANDSHAKE_INVALID", "the answer to the handshake is not an HTTP response");
  }
  const upgrade = head.headers.get("upgrade")?.toLowerCase();
  if (status[1] !== "101" || upgrade !== REVERSE_UPGRADE) {
    socket.destroy();
    const what = status[1] === "101" ? `a 101 to ${upgrade ?? "nothing"}` : `HTTP ${status[1]}`;
    throw new ConnectError("HANDSHAKE_REFUSED", `the handshake was answered with ${what}`, Number(status[1]));
  }
  return socket;
}

/** Waits for a socket still connecting, within the handshake's time (a reversal dials and then speaks). */
function connected(socket: Socket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new ConnectError("HANDSHAKE_TIMEOUT", `not connected within ${timeoutMs} ms`)), timeoutMs);
    const onError = (error: Error): void => done(new ConnectError("HANDSHAKE_CLOSED", `could not connect: ${error.message}`));
    const onClose = (): void => done(new ConnectError("HANDSHAKE_CLOSED", "closed before it connected"));
    const done = (error?: ConnectError): void => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (error === undefined) return resolve();
      socket.destroy();
      reject(error);
    };
    function onConnect(): void {
      done();
    }
    socket.once("connect", onConnect);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}
