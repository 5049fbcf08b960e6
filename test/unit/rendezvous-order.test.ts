import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RELAY_TOKEN_PATTERN, SECRET_PATTERN } from "../../common/rendezvous-wire.js";
import { normalizeIp } from "../../common/ip.js";
import { parseOrder } from "../../peer/connect/rendezvous-order.js";

/** What the tracker's rendezvous socket may send a daemon: checked whole before anything dials. */
describe("a rendezvous order", () => {
  const nonce = "0123456789abcdef0123456789abcdef";
  const token = `${nonce}fedcba9876543210`;

  it("takes the three orders, with an IP address, a port and a secret of the right form", () => {
    expect(parseOrder(JSON.stringify({ type: "reverse", id: "r1", ip: "80.100.100.31", port: 5001, nonce }))).toEqual({ type: "reverse", id: "r1", ip: "80.100.100.31", port: 5001, nonce });
    expect(parseOrder(JSON.stringify({ type: "punch", id: "p-1", ip: "2001:DB8::7", port: 40000, nonce }))).toEqual({ type: "punch", id: "p-1", ip: "2001:db8::7", port: 40000, nonce });
    expect(parseOrder(JSON.stringify({ type: "relay", id: "x", ip: "::ffff:80.100.100.32", port: 5001, token }))).toEqual({ type: "relay", id: "x", ip: "80.100.100.32", port: 5001, token });
  });

  it("refuses names (nothing is looked up), bad ports, bad secrets, unknown types and oversize frames", () => {
    const bad: unknown[] = [
      { type: "reverse", id: "r", ip: "localhost", port: 5001, nonce },
      { type: "reverse", id: "r", ip: "tracker.example", port: 5001, nonce },
      { type: "reverse", id: "r", ip: "80.100.100.31", port: 0, nonce },
      { type: "reverse", id: "r", ip: "80.100.100.31", port: 65536, nonce },
      { type: "reverse", id: "r", ip: "80.100.100.31", port: 50.5, nonce },
      { type: "reverse", id: "r", ip: "80.100.100.31", port: "5001", nonce },
      { type: "reverse", id: "r", ip: "80.100.100.31", port: 5001, nonce: nonce.toUpperCase() },
      { type: "reverse", id: "r", ip: "80.100.100.31", port: 5001, nonce: nonce.slice(1) },
      { type: "relay", id: "r", ip: "80.100.100.31", port: 5001, nonce },
      // A relay token is 48 hex (minted by the tracker for one relay); a nonce's 32 are not one.
      { type: "relay", id: "r", ip: "80.100.100.31", port: 5001, token: nonce },
      { type: "relay", id: "r", ip: "80.100.100.31", port: 5001, token: token.toUpperCase() },
      { type: "relay", id: "r", ip: "80.100.100.31", port: 5001, token: `${token}\r\nX: y` },
      { type: "connect", id: "r", ip: "80.100.100.31", port: 5001, nonce },
      { type: "punch", id: "", ip: "80.100.100.31", port: 5001, nonce },
      { type: "punch", id: "a b", ip: "80.100.100.31", port: 5001, nonce },
      [{ type: "punch", id: "a", ip: "80.100.100.31", port: 5001, nonce }],
      null,
      "reverse",
    ];
    for (const value of bad) expect(parseOrder(JSON.stringify(value)), JSON.stringify(value)).toBeNull();
    expect(parseOrder("{not json")).toBeNull();
    expect(parseOrder(JSON.stringify({ type: "reverse", id: "r", ip: "80.100.100.31", port: 5001, nonce, pad: "x".repeat(2000) }))).toBeNull();
  });

  it("never throws on any frame, and what it takes is always well-formed (fuzz)", () => {
    const field = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.ipV4(), fc.ipV6(), fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{48}$/), fc.constantFrom("reverse", "punch", "relay"));
    const frame = fc.oneof(
      fc.string({ maxLength: 2048 }),
      fc.record({ type: field, id: field, ip: field, port: field, nonce: field, token: field }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
      fc.json(),
    );
    fc.assert(
      fc.property(frame, (text) => {
        const order = parseOrder(text);
        if (order === null) return;
        expect(["reverse", "punch", "relay"]).toContain(order.type);
        expect(normalizeIp(order.ip)).toBe(order.ip);
        expect(Number.isInteger(order.port) && order.port >= 1 && order.port <= 65535).toBe(true);
        if (order.type === "relay") expect(order.token).toMatch(RELAY_TOKEN_PATTERN);
        else expect(order.nonce).toMatch(SECRET_PATTERN);
      }),
      { numRuns: 3000 },
    );
  });
});
