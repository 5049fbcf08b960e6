import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorReply } from "../common/wire.js";

/**
 * The tracker's one error type. Every failure a client can cause or see has a stable code; the app turns
 * it into a JSON reply in one place (app.ts onError). Anything else that escapes is our own fault: 500.
 */
export class TrackerError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "TrackerError";
  }

  toBody(): ErrorReply {
    return { error: { code: this.code, message: this.message } };
  }
}

export const badRequest = (code: string, message: string): TrackerError => new TrackerError(400, code, message);

export const errors = {
  invalidHash: (value: string) =>
    new TrackerError(400, "invalid_hash", `file id must be 40 hex characters (a SHA-1), got ${JSON.stringify(value.slice(0, 80))}`),
  invalidJson: () => new TrackerError(400, "invalid_json", "request body is not valid JSON"),
  unsupportedMediaType: () =>
    new TrackerError(415, "unsupported_media_type", "request body must be application/json"),
  bodyTooLarge: (limit: number) => new TrackerError(413, "body_too_large", `request body exceeds ${limit} bytes`),
  forbiddenKey: () =>
    new TrackerError(403, "key_mismatch", "this peerId is registered with another key; only its key may update it"),
  unknownFile: (sha1: string) => new TrackerError(404, "unknown_file", `no live peer has file ${sha1}`),
  notFound: (path: string) => new TrackerError(404, "not_found", `no route for ${path}`),
  methodNotAllowed: (method: string, path: string) =>
    new TrackerError(405, "method_not_allowed", `${method} is not allowed on ${path}`),
  swarmFull: () => new TrackerError(503, "swarm_full", "this file has as many peers as the tracker keeps", 60),
  tooManyFromAddress: () =>
    new TrackerError(429, "address_limit", "this address holds as many entries in this swarm as one address may"),
  rateLimited: (retryAfter: number) =>
    new TrackerError(429, "rate_limited", "too many requests from this address", retryAfter),
  overloaded: () => new TrackerError(503, "overloaded", "the tracker is busy; retry shortly", 1),
  keyNotOfPeer: () => new TrackerError(403, "key_mismatch", "this key does not derive this peer id (docs/protocol.md §1, identity)"),
  missingKey: () => new TrackerError(401, "missing_key", "send the peer's key as Authorization: Bearer <key>"),
  upgradeRequired: () => new TrackerError(426, "upgrade_required", "this route is a WebSocket: send Upgrade: websocket"),
  peerOffline: () => new TrackerError(404, "peer_offline", "the peer holds no socket to the tracker now"),
  orderLimit: (retryAfter: number) =>
    new TrackerError(429, "order_limit", "this peer was sent as many orders as it takes for now", retryAfter),
  peerSilent: () => new TrackerError(504, "peer_silent", "the peer did not answer the punch order in time"),
  peerRefused: (reason: string) => new TrackerError(409, "peer_refused", `the peer refused: ${reason}`),
  noRelay: () => new TrackerError(503, "no_relay", "no reachable relay of this address family is known now", 30),
  relaysFull: () => new TrackerError(503, "relays_full", "the tracker keeps as many relays as it may", 60),
  noClientAddress: () =>
    new TrackerError(400, "no_client_address", "the connection's address is unknown and no trusted address was given"),
};
