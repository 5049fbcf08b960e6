import { connect } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { RELAY_TOKEN_PATTERN } from "../../common/rendezvous-wire.js";
import { isRelayable } from "../../peer/connect/relay-route.js";
import { isRefusal, parseRelayAsk, refusalBytes } from "../../peer/connect/relay-upgrade.js";
import { RELAY_IP, startRelay, STRANGER_IP, type RelayHost } from "../helpers/relay.js";

/** The relay's parsing of what strangers send, fuzzed: at the door (upgrade heads) and inside a pair (routes). */

const SHA1 = "0123456789abcdef0123456789abcdef01234567";
const hexToken = fc.oneof(fc.stringMatching(/^[0-9a-f]{48}$/), fc.stringMatching(/^[0-9a-f]{32}$/));
const anyText = fc.string({ maxLength: 80, unit: "binary-ascii" });

describe("parseRelayAsk", () => {
  it("takes exactly a GET with a 48-hex token and a known role", () => {
    fc.assert(
      fc.property(fc.constantFrom("GET", "POST", "HEAD", "get"), fc.oneof(hexToken, anyText), fc.oneof(fc.constantFrom("accept", "connect", "Accept", "accept, connect"), anyText), (method, token, role) => {
        const ask = parseRelayAsk(method, { "p2p-relay-token": token, "p2p-relay-role": role });
        const valid = method === "GET" && RELAY_TOKEN_PATTERN.test(token) && (role === "accept" || role === "connect");
        expect(isRefusal(ask)).toBe(!valid);
        if (isRefusal(ask)) expect(refusalBytes(ask).toString("latin1")).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n\r\n\{/);
      }),
    );
  });
});

describe("isRelayable", () => {
  it("passes the public routes, GET and HEAD, without a body", () => {
    for (const path of ["", "/manifest", "/have", "/have?since=0", "/have?since=4294967295", "/have?since=3&stream=1", "/peers", "/chunks/0", "/chunks/1234567890"]) {
      expect(isRelayable("GET", `/v1/files/${SHA1}${path}`, {})).toBe(true);
      expect(isRelayable("HEAD", `/v1/files/${SHA1.toUpperCase()}${path}`, { "content-length": "0" })).toBe(true);
    }
  });

  it("passes nothing else, whatever the URL", () => {
    const route = fc.constantFrom("", "/manifest", "/have", "/peers", "/chunks/3");
    const mutated = fc.tuple(fc.constantFrom("http://x", "/", "//", "/v1/files/", "/v1/files/../", "*"), anyText, route, fc.constantFrom("", "?", "?since=", "?since=1&x", "#", "/", "%2f", "?since=-1", "?stream=1", "?since=1&stream=0", "?since=1&stream=1&x")).map(([a, b, c, d]) => a + b + c + d);
    fc.assert(
      fc.property(fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS"), mutated, (method, url) => {
        const ok = isRelayable(method, url, {});
        if (ok) expect(url).toMatch(/^\/v1\/files\/[0-9a-fA-F]{40}(\/(manifest|peers|have(\?since=\d{1,10}(&stream=1)?)?|chunks\/\d{1,10}))?$/);
        if (method !== "GET" && method !== "HEAD") expect(ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
    expect(isRelayable("GET", `/v1/files/${SHA1}/manifest`, { "transfer-encoding": "chunked" })).toBe(false);
    expect(isRelayable("GET", `/v1/files/${SHA1}/manifest`, { "content-length": "5" })).toBe(false);
    expect(isRelayable("GET", `/v1/files/${SHA1}/manifest?since=1`, {})).toBe(false);
  });
});

describe("the relay's door, fuzzed", () => {
  let host: RelayHost | undefined;
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  /** One raw head to the relay: resolves with what came back once the relay has closed the connection. */
  function send(port: number, head: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: RELAY_IP, port, localAddress: STRANGER_IP });
      let text = "";
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no end within 3 s for ${JSON.stringify(head.slice(0, 200))}`));
      }, 3000);
      socket.on("data", (data: Buffer) => (text += data.toString("latin1")));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(text);
      });
      socket.end(head);
    });
  }

  it("answers or closes every upgrade head, quickly, and never makes a pair of one socket", async () => {
    host = await startRelay({ waitMs: 100, maxPairsPerAddress: 64 });
    const port = host.port;
    const name = fc.oneof(fc.constantFrom("Upgrade", "P2P-Relay-Token", "P2P-Relay-Role", "Connection", "Content-Length", "Transfer-Encoding", "upgrade", "P2P-Relay-Token "), fc.stringMatching(/^[A-Za-z-]{1,20}$/));
    const value = fc.oneof(fc.constantFrom("p2p-relay/1", "P2P-RELAY/1", "accept", "connect", "Upgrade", "0", "chunked", "x".repeat(9000)), hexToken, anyText);
    const head = fc
      .tuple(
        // Mostly well-formed, so that most heads get past Node's parser to the relay's own checks.
        fc.oneof({ arbitrary: fc.constant("GET"), weight: 6 }, fc.constantFrom("POST", "CONNECT", "PRI", "G\u0000T")),
        fc.oneof({ arbitrary: fc.constant("/v1/relay"), weight: 6 }, fc.constantFrom("*", "http://x/", "/")),
        fc.oneof({ arbitrary: fc.constant("HTTP/1.1"), weight: 6 }, fc.constantFrom("HTTP/1.0", "HTTP/2.0", "")),
        fc.array(fc.oneof(fc.tuple(name, value), fc.tuple(fc.constant("P2P-Relay-Token"), hexToken), fc.tuple(fc.constant("P2P-Relay-Role"), fc.constantFrom("accept", "connect"))), { maxLength: 8 }),
        fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, fc.constant(false)),
      )
      .map(([method, target, version, headers, upgrade]) => {
        const lines = headers.map(([n, v]) => `${n}: ${v}`);
        if (upgrade) lines.unshift("Connection: Upgrade", "Upgrade: p2p-relay/1");
        return `${method} ${target} ${version}\r\n${lines.join("\r\n")}\r\n\r\n`;
      });
    await fc.assert(
      fc.asyncProperty(head, async (text) => {
        const answer = await send(port, text);
        if (answer !== "") expect(answer).toMatch(/^HTTP\/1\.[01] \d{3} /);
        expect(host!.relay.counters().pairs).toBe(0);
      }),
      { numRuns: 150 },
    );
    expect(host.relay.counters()).toMatchObject({ pairs: 0, pairsTotal: 0, waiting: 0 });
    // Many heads got past Node's parser to the relay itself, and were turned away there.
    expect(host.relay.counters().refused).toBeGreaterThan(10);
  });
});
