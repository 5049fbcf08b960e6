import { describe, expect, it } from "vitest";
import type { FoundPeer } from "../../peer/sources/candidate-table.js";
import { PeerExchange, type ExchangePeer } from "../../peer/sources/peer-exchange.js";

const SHA1 = "a".repeat(40);
/** Nobody is asked twice by the clock in these tests: only joins and hurries ask. */
const TIMING = { intervalMs: 60_000, hurriedMs: 60_000, tickMs: 60_000, concurrency: 4, limits: { idleMs: 1000, deadlineMs: 1000 } };

function peer(key: string, answer: () => Promise<string>): ExchangePeer & { asked: string[] } {
  const asked: string[] = [];
  return {
    key,
    address: { ip: key.slice(0, key.lastIndexOf(":")) },
    asked,
    small: async (path: string) => {
      asked.push(path);
      return Buffer.from(await answer());
    },
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe("the peer exchange of a download", () => {
  it("asks a peer that joins for the file's /peers once, and offers what it says as exchange:<peer>", async () => {
    const a = peer("127.0.62.2:1", () => Promise.resolve(JSON.stringify({ peers: [{ ip: "127.0.62.3", port: 1 }, { ip: "bogus", port: 1 }] })));
    const offers: Array<[string, FoundPeer[]]> = [];
    const exchange = new PeerExchange(SHA1, () => [a], (source, found) => offers.push([source, found]), TIMING);
    try {
      exchange.noticed();
      exchange.noticed();
      await settle();
      exchange.hurry();
      await settle();
      expect(a.asked).toEqual([`/v1/files/${SHA1}/peers`]);
      expect(offers).toEqual([["exchange:127.0.62.2:1", [{ host: "127.0.62.3", port: 1, complete: false }]]]);
    } finally {
      exchange.close();
    }
  });

  it("asks again when hurried once the hurried interval has passed, and never after close", async () => {
    const a = peer("127.0.62.2:1", () => Promise.resolve('{"peers":[]}'));
    const exchange = new PeerExchange(SHA1, () => [a], () => undefined, { ...TIMING, hurriedMs: 0 });
    exchange.noticed();
    await settle();
    exchange.hurry();
    await settle();
    expect(a.asked).toHaveLength(2);
    exchange.close();
    exchange.hurry();
    exchange.noticed();
    await settle();
    expect(a.asked).toHaveLength(2);
  });

  it("ignores peers that fail or answer nothing usable, and caps what one peer adds over many answers", async () => {
    let round = 0;
    const flood = peer("127.0.62.4:1", () => {
      round += 1;
      return Promise.resolve(JSON.stringify({ peers: Array.from({ length: 50 }, (_, i) => ({ ip: "127.0.62.9", port: round * 100 + i + 1 })) }));
    });
    const broken = peer("127.0.62.5:1", () => Promise.reject(new Error("reset")));
    const garbage = peer("127.0.62.6:1", () => Promise.resolve("\u0000 not json"));
    const offered: FoundPeer[] = [];
    const exchange = new PeerExchange(SHA1, () => [flood, broken, garbage], (_source, found) => offered.push(...found), { ...TIMING, hurriedMs: 0 });
    try {
      exchange.noticed();
      await settle();
      for (let i = 0; i < 5; i++) {
        exchange.hurry();
        await settle();
      }
      expect(flood.asked.length).toBe(6);
      expect(broken.asked.length).toBe(6);
      expect(offered).toHaveLength(50);
      expect(new Set(offered.map((p) => p.port)).size).toBe(50);
    } finally {
      exchange.close();
    }
  });
});
