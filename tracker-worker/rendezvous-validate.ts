import { KEY_MAX, KEY_MIN } from "../common/constants.js";
import { DERIVED_PEER_ID, SECRET_PATTERN, type PunchRequest, type RelayOffer, type ReverseRequest } from "../common/rendezvous-wire.js";
import { badRequest, errors } from "./errors.js";
import { integer, isRecord, text } from "./validate.js";

/**
 * The rendezvous routes' untrusted input (docs/protocol.md §1.4) as typed values, or a TrackerError naming the
 * field. Fields a route does not know are ignored, as in announces, so that a newer peer can talk to an older
 * tracker; every field it knows is checked for type and range.
 */

/** A peer id in a path: only a derived id (DERIVED_PEER_ID) can ever hold a socket. */
export function parsePeerIdParam(raw: string): string {
  if (!DERIVED_PEER_ID.test(raw)) throw badRequest("invalid_peerId", "the peer id must be p2p- and 32 lowercase hex characters");
  return raw;
}

/** `Authorization: Bearer <key>`. */
export function parseBearerKey(header: string | undefined): string {
  const match = /^Bearer (\S+)$/.exec(header ?? "");
  if (match === null) throw errors.missingKey();
  return text({ key: match[1] }, "key", KEY_MIN, KEY_MAX);
}

function secret(body: Record<string, unknown>, field: string): string {
  const value = text(body, field, 32, 32);
  if (!SECRET_PATTERN.test(value)) throw badRequest(`invalid_${field}`, `${field} must be 32 lowercase hex characters`);
  return value;
}

function portAndNonce(body: unknown, what: string): { port: number; nonce: string } {
  if (!isRecord(body)) throw badRequest("invalid_body", `${what} body must be a JSON object`);
  return { port: integer(body, "port", 1, 65535), nonce: secret(body, "nonce") };
}

export function parseReverseRequest(body: unknown): ReverseRequest {
  return portAndNonce(body, "reverse");
}

export function parsePunchRequest(body: unknown): PunchRequest {
  return portAndNonce(body, "punch");
}

/** `POST .../relay` carries nothing: the tracker picks the relay and the token. The body must still be an object. */
export function parseRelayRequest(body: unknown): Record<string, never> {
  if (!isRecord(body)) throw badRequest("invalid_body", "relay body must be a JSON object ({})");
  return {};
}

export function parseRelayOffer(body: unknown): RelayOffer {
  if (!isRecord(body)) throw badRequest("invalid_body", "relay offer body must be a JSON object");
  const peerId = text(body, "peerId", 36, 36);
  if (!DERIVED_PEER_ID.test(peerId)) throw badRequest("invalid_peerId", "peerId must be derived from the key (p2p- and 32 hex)");
  const offer: RelayOffer = { peerId, key: text(body, "key", KEY_MIN, KEY_MAX), port: integer(body, "port", 1, 65535) };
  const event = body["event"];
  if (event !== undefined) {
    if (event !== "stopped") throw badRequest("invalid_event", "event must be stopped, or absent");
    offer.event = event;
  }
  return offer;
}
