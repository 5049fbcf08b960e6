/**
 * What the tracker and peers say to each other to connect two peers that cannot simply dial one another
 * (docs/protocol.md §1.4 and §2.7): a peer that is not reachable keeps a WebSocket open to the tracker's
 * Rendezvous object for its peer id; a downloader asks the tracker to have that peer reverse the connection,
 * punch a hole with it, or meet it at a relay. Shared by the Worker and the peer daemon.
 */

/** A nonce or an order id: 32 lowercase hex characters (128 random bits). */
export const SECRET_PATTERN = /^[0-9a-f]{32}$/;
/**
 * A relay token: 48 lowercase hex characters, minted by the tracker for one relay and checked by that relay
 * (common/relay-token.ts: random, expiry, MAC).
 */
export const RELAY_TOKEN_PATTERN = /^[0-9a-f]{48}$/;

/** The `Upgrade` token of the handshake the unreachable peer sends first on a reversed, punched or relayed socket. */
export const REVERSE_UPGRADE = "p2p-reverse/1";
/** The `Upgrade` token both peers send to a relay. */
export const RELAY_UPGRADE = "p2p-relay/1";

/**
 * A peer's id is derived from its key, so that only the holder of the key can open the Rendezvous socket of
 * that id: `p2p-` and the first 32 hex characters of SHA-256(key). Web Crypto: the same in workerd and Node.
 */
export async function peerIdOfKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `p2p-${hex.slice(0, 32)}`;
}

export const DERIVED_PEER_ID = /^p2p-[0-9a-f]{32}$/;

/** Tracker to peer, over the Rendezvous WebSocket (JSON text frames). */
export type RendezvousOrder =
  /** Dial `ip:port` (the asker's connection address as the tracker saw it, and its public port) and send the handshake with `nonce`. */
  | { type: "reverse"; id: string; ip: string; port: number; nonce: string }
  /**
   * Answer `punch-ready` with a local port, then open a TCP connection from that port to `ip:port` while the
   * asker opens one from `ip:port` to it (a simultaneous open), and send the handshake with `nonce`.
   */
  | { type: "punch"; id: string; ip: string; port: number; nonce: string }
  /** Connect to the relay at `ip:port` and present `token` (RELAY_UPGRADE, role `accept`; RELAY_TOKEN_PATTERN). */
  | { type: "relay"; id: string; ip: string; port: number; token: string };

/** Peer to tracker, over the same socket. (The text `ping` is answered `pong` without waking the object.) */
export type RendezvousAnswer = { type: "punch-ready"; id: string; port: number } | { type: "refused"; id: string; reason: string };

/** `POST /v1/peers/{peerId}/reverse`: have the peer dial the asker (at the asker's connection address). */
export interface ReverseRequest {
  port: number;
  nonce: string;
}

/** `POST /v1/peers/{peerId}/punch`: the asker's local port; the reply gives the peer's address and local port. */
export interface PunchRequest {
  port: number;
  nonce: string;
}

export interface PunchReply {
  ip: string;
  port: number;
}

/**
 * `POST /v1/peers/{peerId}/relay`: the tracker picks a relay, mints a token that relay can check
 * (common/relay-token.ts) and tells the peer; the asker gets the same.
 */
export interface RelayReply {
  ip: string;
  port: number;
  token: string;
}

/** `POST /v1/relays`: a daemon run with `--relay` offers itself (dial-back checked, listed only when reachable). */
export interface RelayOffer {
  peerId: string;
  key: string;
  port: number;
  event?: "stopped";
}

export interface RelayOfferReply {
  interval: number;
  /** The dial-back's verdict; a relay is handed out only when true. */
  reachable: boolean | null;
}

/** How a downloader reached a peer; `--json` and the dashboard report it per peer. */
export type PeerPath = "direct" | "mapped" | "reversed" | "punched" | "relayed";

/** `202` reply to `POST /v1/peers/{peerId}/reverse`: the order went out on the peer's socket. */
export interface ReverseReply {
  sent: true;
}

/** Bodies of the rendezvous requests and frames on the socket are small; anything larger is refused or ignored. */
export const MAX_RENDEZVOUS_BODY_BYTES = 1024;
export const MAX_FRAME_BYTES = 1024;

/**
 * A rendezvous frame read as a JSON object, on either side of the socket: null for anything over
 * MAX_FRAME_BYTES of UTF-8, not JSON, or not an object. What its fields must be is each reader's own check.
 */
export function frameObject(frame: string): Record<string, unknown> | null {
  // A UTF-16 length over the limit is at least that many UTF-8 bytes; under it, count the bytes.
  if (frame.length > MAX_FRAME_BYTES || new TextEncoder().encode(frame).byteLength > MAX_FRAME_BYTES) return null;
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return null;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
/** How long `POST .../punch` waits for the peer's `punch-ready`. */
export const PUNCH_READY_WAIT_MS = 3000;
/** Close codes of the Rendezvous socket: a newer socket of the same peer took over; the socket sent too many bad frames. */
export const SOCKET_REPLACED = 4000;
export const SOCKET_BAD_FRAMES = 1008;
