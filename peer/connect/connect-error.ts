import { P2PError } from "../errors.js";

/**
 * How connecting to a peer another way than dialling it failed: a handshake refused or broken, a punch that
 * found no way through, or too many waiting at once. A network error for the CLI (exit 4); the download side
 * turns it into a PeerFault, like any failure to reach a peer.
 */
export type ConnectCode =
  /** The other side answered the handshake with something else than 101 (a 403 for a nonce it did not expect). */
  | "HANDSHAKE_REFUSED"
  /** Not the handshake: garbage, another request, a head past the size bound, bytes sent out of turn. */
  | "HANDSHAKE_INVALID"
  | "HANDSHAKE_TIMEOUT"
  /** The socket closed (or failed) before the handshake was over. */
  | "HANDSHAKE_CLOSED"
  /** Already this many handshakes awaited, or the same nonce twice. */
  | "HANDSHAKE_BUSY"
  /** No simultaneous open got through before the deadline. */
  | "PUNCH_FAILED"
  /**
   * A tracker's reply named somewhere this machine must not be aimed at: not an IP address, no valid port, an
   * address wider in reach than the tracker's own allows (its own machine or network), a malformed token.
   */
  | "BAD_TARGET"
  /** Our own caller gave up (AbortSignal) or the registry closed. */
  | "CONNECT_ABORTED";

export class ConnectError extends P2PError {
  constructor(
    override readonly code: ConnectCode,
    message: string,
    /** The status a refusing peer answered with (HANDSHAKE_REFUSED). */
    readonly status?: number,
  ) {
    super(code, "network", message);
    this.name = "ConnectError";
  }
}
