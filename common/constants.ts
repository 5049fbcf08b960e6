/** Constants both sides of the wire agree on. The tracker and the peer import this; never each other. */

/** Every file is cut into chunks of this size; the last may be shorter; a zero-byte file has none. */
export const CHUNK_SIZE = 1024 * 1024;

/** The protocol version that prefixes every route. */
export const API_PREFIX = "/v1";

/** Peers a tracker returns when the caller does not ask for a number. */
export const DEFAULT_PEER_SAMPLE = 50;

/** The most peers a tracker returns in one reply. */
export const MAX_PEER_SAMPLE = 200;

/** Announce bodies are small JSON objects; anything larger is refused before it is parsed. */
export const MAX_ANNOUNCE_BYTES = 4096;

export const PEER_ID_MAX = 64;
export const KEY_MIN = 16;
export const KEY_MAX = 128;
export const FILE_NAME_MAX = 1024;

/** The port a peer daemon serves chunks on unless told otherwise. */
export const DEFAULT_PEER_PORT = 5001;

/** The tracker's settings (wrangler.toml [vars]), which `p2p tracker --var` may override. */
export const TRACKER_VARS = [
  "ANNOUNCE_INTERVAL_SECONDS",
  "ANNOUNCE_GRACE_SECONDS",
  "TRUST_CLIENT_IP",
  "MAX_PEERS_PER_FILE",
  "MAX_PEERS_PER_ADDRESS",
  "RATE_LIMIT_PER_MINUTE",
  "DIAL_BACK",
  "DIAL_BACK_PRIVATE",
  "DIAL_BACK_TIMEOUT_MS",
] as const;

/** Where the local tracker listens unless told otherwise. */
export const DEFAULT_TRACKER_URL = "http://127.0.0.1:8787";
