import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkRelayToken, mintRelayToken, RELAY_TOKEN_SKEW_SEC, RELAY_TOKEN_TTL_SEC, relayTokenKey } from "../../common/relay-token.js";
import { RELAY_TOKEN_PATTERN } from "../../common/rendezvous-wire.js";

/** The tracker's relay tokens: minted with a relay's token key, checked by that relay only, for a minute. */

const NOW = 1_750_000_000_000;

describe("relay tokens", () => {
  it("derives the token key as SHA-256 of a label and the key, in hex", async () => {
    const key = "k".repeat(48);
    expect(await relayTokenKey(key)).toBe(createHash("sha256").update(`p2p-relay-token-key:v1:${key}`).digest("hex"));
    expect(await relayTokenKey(key)).not.toBe(await relayTokenKey(`${key}x`));
  });

  it("mints 48 hex that check with the same key: random, expiry, a truncated HMAC of both", async () => {
    const tokenKey = await relayTokenKey("relay-key-aaaaaaaaaaaaaaaa");
    const token = await mintRelayToken(tokenKey, NOW);
    expect(token).toMatch(RELAY_TOKEN_PATTERN);
    expect(parseInt(token.slice(16, 24), 16)).toBe(Math.floor(NOW / 1000) + RELAY_TOKEN_TTL_SEC);
    const mac = createHmac("sha256", Buffer.from(tokenKey, "hex")).update(token.slice(0, 24)).digest("hex").slice(0, 24);
    expect(token.slice(24)).toBe(mac);
    expect(await checkRelayToken(tokenKey, token, NOW)).toBe(true);
    expect(await mintRelayToken(tokenKey, NOW)).not.toBe(token);
  });

  it("refuses a token minted with another key", async () => {
    const token = await mintRelayToken(await relayTokenKey("relay-key-aaaaaaaaaaaaaaaa"), NOW);
    expect(await checkRelayToken(await relayTokenKey("relay-key-bbbbbbbbbbbbbbbb"), token, NOW)).toBe(false);
  });

  it("refuses a token with any one bit flipped, in the random, the expiry or the MAC", async () => {
    const tokenKey = await relayTokenKey("relay-key-aaaaaaaaaaaaaaaa");
    const token = await mintRelayToken(tokenKey, NOW);
    for (let i = 0; i < token.length; i++) {
      for (const bit of [1, 2, 4, 8]) {
        const flipped = token.slice(0, i) + (parseInt(token[i]!, 16) ^ bit).toString(16) + token.slice(i + 1);
        expect([i, bit, await checkRelayToken(tokenKey, flipped, NOW)]).toEqual([i, bit, false]);
      }
    }
  });

  it("refuses a token once its expiry (and the allowed clock skew) is over", async () => {
    const tokenKey = await relayTokenKey("relay-key-aaaaaaaaaaaaaaaa");
    const token = await mintRelayToken(tokenKey, NOW);
    const last = NOW + (RELAY_TOKEN_TTL_SEC + RELAY_TOKEN_SKEW_SEC) * 1000;
    expect(await checkRelayToken(tokenKey, token, last)).toBe(true);
    expect(await checkRelayToken(tokenKey, token, last + 1000)).toBe(false);
    expect(await checkRelayToken(tokenKey, token, NOW + 3600_000)).toBe(false);
  });

  it("refuses a token of the wrong length or case, and any key that is not hex, without throwing", async () => {
    const tokenKey = await relayTokenKey("relay-key-aaaaaaaaaaaaaaaa");
    const token = await mintRelayToken(tokenKey, NOW);
    for (const bad of [token.slice(0, 32), token.slice(0, 47), `${token}0`, token.toUpperCase(), "", ` ${token}`]) {
      expect(await checkRelayToken(tokenKey, bad, NOW)).toBe(false);
    }
    expect(await checkRelayToken("not hex", token, NOW)).toBe(false);
    expect(await checkRelayToken("", token, NOW)).toBe(false);
  });
});
