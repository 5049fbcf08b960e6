import { describe, expect, it } from "vitest";
import { admit, MAX_PEERS_PER_ANSWER, parsePeersAnswer } from "../../peer/sources/exchange-answer.js";
import { parsePeerAddress, peerListFromJson } from "../../peer/sources/peer-address.js";
import { P2PError } from "../../peer/errors.js";

const peers = (list: unknown[]): string => JSON.stringify({ peers: list });

describe("a /peers answer (untrusted)", () => {
  it("keeps valid entries, canonical and once each", () => {
    const found = parsePeersAnswer(peers([{ ip: "127.0.60.2", port: 45001 }, { ip: "::ffff:127.0.60.3", port: 1 }, { ip: "127.0.60.2", port: 45001 }, { ip: "2001:DB8::1", port: 65535 }]));
    expect(found).toEqual([
      { host: "127.0.60.2", port: 45001, complete: false },
      { host: "127.0.60.3", port: 1, complete: false },
      { host: "2001:db8::1", port: 65535, complete: false },
    ]);
  });

  it("drops what is not a dialable IP and a port, and answers garbage with nothing", () => {
    const bad = [
      { ip: "example.com", port: 1 },
      { ip: "0.0.0.0", port: 1 },
      { ip: "::", port: 1 },
      { ip: "224.0.0.1", port: 1 },
      { ip: "ff02::1", port: 1 },
      { ip: "127.0.60.2", port: 0 },
      { ip: "127.0.60.2", port: 65536 },
      { ip: "127.0.60.2", port: "80" },
      { ip: "127.0.60.2", port: 1.5 },
      { ip: 2130706433, port: 1 },
      null,
      "127.0.60.2:1",
      [],
    ];
    expect(parsePeersAnswer(peers(bad))).toEqual([]);
    for (const garbage of ["", "not json", "null", "[]", '{"peers":{}}', '{"peers":"x"}', "\u0000\u00ff", '{"peers":[' ]) expect(parsePeersAnswer(garbage)).toEqual([]);
  });

  it("looks at the first 50 entries only", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({ ip: `127.0.${60 + Math.floor(i / 250)}.${(i % 250) + 1}`, port: 1 }));
    expect(parsePeersAnswer(peers(many))).toHaveLength(MAX_PEERS_PER_ANSWER);
  });

  it("lets one answering peer put forward at most its share, and all of them at most the download's", () => {
    const all = new Set<string>();
    const fromX = new Set<string>();
    const batch = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ host: "127.0.61.1", port: from + i, complete: false }));
    expect(admit(fromX, all, batch(1, 40), 50, 70)).toHaveLength(40);
    expect(admit(fromX, all, batch(41, 40), 50, 70)).toHaveLength(10);
    // What it named before is still fine to name again; nothing new.
    expect(admit(fromX, all, batch(1, 60), 50, 70)).toHaveLength(50);
    const fromY = new Set<string>();
    expect(admit(fromY, all, batch(1000, 40), 50, 70)).toHaveLength(20);
    // Another peer naming an address already admitted costs it nothing.
    expect(admit(fromY, all, batch(1, 5), 50, 70)).toHaveLength(5);
    expect(all.size).toBe(70);
  });
});

describe("peer addresses given by hand", () => {
  it("reads IPv4:port and [IPv6]:port", () => {
    expect(parsePeerAddress("127.0.60.2:45001")).toEqual({ host: "127.0.60.2", port: 45001 });
    expect(parsePeerAddress("[::1]:5001")).toEqual({ host: "::1", port: 5001 });
    expect(parsePeerAddress("[2001:DB8:0:0::7]:5001")).toEqual({ host: "2001:db8::7", port: 5001 });
  });

  it("refuses anything else", () => {
    for (const bad of ["127.0.60.2", "127.0.60.2:", ":5001", "127.0.60.2:0", "127.0.60.2:65536", "::1:5001", "[::1]", "localhost:5001", "example.com:80", "0.0.0.0:5001", "[::]:5001", "256.1.1.1:1", "127.0.60.2:5001x", ""]) {
      expect(parsePeerAddress(bad), bad).toBeNull();
    }
  });

  it("checks the control API's list, as INVALID_PEER", () => {
    expect(peerListFromJson(undefined)).toBeUndefined();
    expect(peerListFromJson(["127.0.60.2:1", "[::1]:2"])).toEqual([{ host: "127.0.60.2", port: 1 }, { host: "::1", port: 2 }]);
    for (const bad of ["127.0.60.2:1", [1], ["nope"], Array.from({ length: 51 }, () => "127.0.60.2:1")]) {
      expect(() => peerListFromJson(bad)).toThrow(P2PError);
      try {
        peerListFromJson(bad);
      } catch (error) {
        expect((error as P2PError).code).toBe("INVALID_PEER");
      }
    }
  });
});
