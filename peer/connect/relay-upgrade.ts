import type { IncomingHttpHeaders } from "node:http";
import { RELAY_TOKEN_PATTERN, RELAY_UPGRADE } from "../../common/rendezvous-wire.js";

/**
 * The upgrade request both peers send a relay, and the relay's raw answers to it (pure: no sockets).
 * The relay answers on the socket itself, before any HTTP server owns it, so its answers are built here as
 * bytes; every refusal closes the connection.
 */

/** `accept`: the sharer, told by the tracker; `connect`: the downloader that asked for the relay. */
export type RelayRole = "accept" | "connect";

export const TOKEN_HEADER = "p2p-relay-token";
export const ROLE_HEADER = "p2p-relay-role";

export interface RelayAsk {
  token: string;
  role: RelayRole;
}

/** Why a relay turns a socket away: the HTTP status, a stable reason code and, for load, when to ask again. */
export interface RelayRefusal {
  status: number;
  reason: string;
  message: string;
  retryAfterSec?: number;
}

/** Whether an upgrade request is meant for the relay at all (otherwise another handler may take it). */
export function isRelayUpgrade(headers: IncomingHttpHeaders): boolean {
  return typeof headers.upgrade === "string" && headers.upgrade.trim().toLowerCase() === RELAY_UPGRADE;
}

/**
 * The token and role of a relay upgrade, or why it is refused. Node joins a repeated header with ", ", so a
 * token or role given twice matches no pattern and is refused too. Only the token's form is checked here;
 * whether this relay's tracker minted it is the relay's check (403 `bad_token`).
 */
export function parseRelayAsk(method: string | undefined, headers: IncomingHttpHeaders): RelayAsk | RelayRefusal {
  if (method !== "GET") return { status: 400, reason: "bad_method", message: "a relay upgrade is a GET" };
  const token = headers[TOKEN_HEADER];
  if (typeof token !== "string" || !RELAY_TOKEN_PATTERN.test(token)) {
    return { status: 400, reason: "bad_token", message: "P2P-Relay-Token must be 48 lowercase hex characters" };
  }
  const role = headers[ROLE_HEADER];
  if (role !== "accept" && role !== "connect") return { status: 400, reason: "bad_role", message: "P2P-Relay-Role must be accept or connect" };
  return { token, role };
}

export function isRefusal(value: RelayAsk | RelayRefusal): value is RelayRefusal {
  return "status" in value;
}

const REASONS: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 409: "Conflict", 410: "Gone", 503: "Service Unavailable", 504: "Gateway Timeout" };

/** The raw reply to a refused upgrade: JSON like every other error of the peer, and the connection closed. */
export function refusalBytes(refusal: RelayRefusal): Buffer {
  const body = JSON.stringify({ error: { code: refusal.reason, message: refusal.message } });
  const retry = refusal.retryAfterSec === undefined ? "" : `Retry-After: ${refusal.retryAfterSec}\r\n`;
  const head =
    `HTTP/1.1 ${refusal.status} ${REASONS[refusal.status] ?? "Error"}\r\n${retry}` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return Buffer.from(head + body);
}

export const SWITCHING = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${RELAY_UPGRADE}\r\n\r\n`);

/** The request a peer sends to a relay (relay-client.ts); `host` is `ip:port`, brackets around IPv6. */
export function upgradeRequest(host: string, ask: RelayAsk): string {
  return `GET /v1/relay HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${RELAY_UPGRADE}\r\nP2P-Relay-Token: ${ask.token}\r\nP2P-Relay-Role: ${ask.role}\r\n\r\n`;
}
