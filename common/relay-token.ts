import { RELAY_TOKEN_PATTERN } from "./rendezvous-wire.js";

/**
 * Relay tokens the relay can check (docs/protocol.md §1.4, §2.7): the tracker mints them with a key derived
 * from the relay's own key (which the relay sent in its offer, `POST /v1/relays`), so a relay carries only
 * pairs the tracker made. Two strangers who agree on a token of their own get nothing. Web Crypto only: the
 * same code runs in workerd (the tracker) and in Node (the relay).
 *
 * Format, 48 lowercase hex characters:
 *   16 hex  random (64 bits): two tokens minted in the same second differ;
 *    8 hex  expiry, unix seconds (mint time + RELAY_TOKEN_TTL_SEC);
 *   24 hex  the first 96 bits of HMAC-SHA256(tokenKey, the ASCII of the first 24 hex characters).
 * tokenKey = SHA-256("p2p-relay-token-key:v1:" + the relay's key): the tracker stores this, never the key.
 */

/** How long a minted token may be presented: the peer is told at once and dials the relay within seconds. */
export const RELAY_TOKEN_TTL_SEC = 60;
/** How far a relay's clock may run ahead of the tracker's before fresh tokens look expired to it. */
export const RELAY_TOKEN_SKEW_SEC = 30;

const KEY_LABEL = "p2p-relay-token-key:v1:";
const RANDOM_HEX = 16;
const EXPIRY_HEX = 8;
const MAC_BYTES = 12;

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function bytesOfHex(text: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/.test(text)) return null;
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** The token key of a relay whose daemon key is `key`: 64 lowercase hex characters (SHA-256). */
export async function relayTokenKey(key: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(KEY_LABEL + key))));
}

async function mac(tokenKeyHex: string, body: string): Promise<Uint8Array> {
  const raw = bytesOfHex(tokenKeyHex);
  if (raw === null) throw new Error("a relay token key is lowercase hex");
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body))).subarray(0, MAC_BYTES);
}

/** A fresh token for the relay whose token key is `tokenKeyHex`, valid until `nowMs` + RELAY_TOKEN_TTL_SEC. */
export async function mintRelayToken(tokenKeyHex: string, nowMs: number): Promise<string> {
  const random = hex(crypto.getRandomValues(new Uint8Array(RANDOM_HEX / 2)));
  const expiry = (Math.floor(nowMs / 1000) + RELAY_TOKEN_TTL_SEC).toString(16).padStart(EXPIRY_HEX, "0");
  const body = random + expiry;
  return body + hex(await mac(tokenKeyHex, body));
}

/**
 * Whether `token` was minted with `tokenKeyHex` and has not expired at `nowMs` (allowing RELAY_TOKEN_SKEW_SEC
 * of clock difference). The MAC is compared in constant time. A malformed key or token is simply false.
 */
export async function checkRelayToken(tokenKeyHex: string, token: string, nowMs: number): Promise<boolean> {
  if (!RELAY_TOKEN_PATTERN.test(token) || bytesOfHex(tokenKeyHex) === null) return false;
  const body = token.slice(0, RANDOM_HEX + EXPIRY_HEX);
  const expiry = parseInt(token.slice(RANDOM_HEX, RANDOM_HEX + EXPIRY_HEX), 16);
  if (Math.floor(nowMs / 1000) > expiry + RELAY_TOKEN_SKEW_SEC) return false;
  const expected = await mac(tokenKeyHex, body);
  const given = bytesOfHex(token.slice(RANDOM_HEX + EXPIRY_HEX));
  if (given === null || given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ given[i]!;
  return diff === 0;
}
