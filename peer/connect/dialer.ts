import type { Socket } from "node:net";
import type { PeerPath } from "../../common/rendezvous-wire.js";

/**
 * A way to a peer other than dialling its address (a reversal, a punch, a relay): what PeerConnection is
 * given for a peer it cannot dial. Each `dial` is one new connection, its handshake done, on which we are the
 * HTTP client; the download side does not learn how it was made, beyond `path` for the report.
 */
export interface Dialer {
  readonly path: PeerPath;
  /** A connected socket to the peer; rejects (a ConnectError) when there is no way; stops early on `signal`. */
  dial(signal?: AbortSignal): Promise<Socket>;
}
