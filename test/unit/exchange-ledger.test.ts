import { describe, expect, it } from "vitest";
import { ExchangeLedger, MAX_PER_ADDRESS } from "../../peer/swarm/exchange-ledger.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const MIN = 60_000;

describe("the exchange ledger", () => {
  it("lists a file's peers, the most recent first, once each, per file", () => {
    const ledger = new ExchangeLedger();
    ledger.record(A, "127.0.60.2", 45001, 1000);
    ledger.record(A, "127.0.60.3", 45001, 2000);
    ledger.record(A, "127.0.60.2", 45001, 3000);
    ledger.record(B, "127.0.60.4", 45001, 3000);
    expect(ledger.list(A, 4000)).toEqual([
      { ip: "127.0.60.2", port: 45001 },
      { ip: "127.0.60.3", port: 45001 },
    ]);
    expect(ledger.list(B, 4000)).toEqual([{ ip: "127.0.60.4", port: 45001 }]);
    expect(ledger.list("c".repeat(40), 4000)).toEqual([]);
    expect(ledger.size).toBe(3);
  });

  it("tells ports apart, leaves out the asker, and lists at most `max`", () => {
    const ledger = new ExchangeLedger();
    for (let i = 1; i <= 80; i++) ledger.record(A, `2001:db8::${i.toString(16)}`, 5000 + i, i);
    ledger.record(A, "2001:db8::50", 6000, 81);
    const listed = ledger.list(A, 100, 50, "[2001:db8::50]:6000");
    expect(listed).toHaveLength(50);
    expect(listed[0]).toEqual({ ip: "2001:db8::50", port: 5080 });
    expect(listed.some((p) => p.port === 6000)).toBe(false);
  });

  it("keeps at most MAX_PER_ADDRESS entries of one address, the latest", () => {
    const ledger = new ExchangeLedger();
    ledger.record(A, "127.0.60.9", 1, 0);
    for (let port = 1; port <= 200; port++) ledger.record(A, "127.0.60.2", port, port);
    const listed = ledger.list(A, 300, 50);
    expect(listed.filter((p) => p.ip === "127.0.60.2").map((p) => p.port)).toEqual([200, 199, 198, 197].slice(0, MAX_PER_ADDRESS));
    expect(listed).toContainEqual({ ip: "127.0.60.9", port: 1 });
  });

  it("forgets what is older than ten minutes", () => {
    const ledger = new ExchangeLedger();
    ledger.record(A, "127.0.60.2", 1, 0);
    ledger.record(A, "127.0.60.3", 1, 5 * MIN);
    expect(ledger.list(A, 10 * MIN - 1)).toHaveLength(2);
    expect(ledger.list(A, 10 * MIN)).toEqual([{ ip: "127.0.60.3", port: 1 }]);
    expect(ledger.size).toBe(1);
    expect(ledger.list(A, 15 * MIN)).toEqual([]);
    expect(ledger.size).toBe(0);
    // A file whose entries all expired starts again cleanly.
    ledger.record(A, "127.0.60.4", 1, 16 * MIN);
    expect(ledger.list(A, 16 * MIN)).toEqual([{ ip: "127.0.60.4", port: 1 }]);
  });

  it("holds at most perFile per file and total in all, the oldest giving way", () => {
    const ledger = new ExchangeLedger({ ttlMs: 10 * MIN, perFile: 10, total: 25 });
    for (let i = 0; i < 1000; i++) ledger.record(A, `10.0.${i >> 8}.${i & 255}`, i + 1, i);
    expect(ledger.size).toBe(10);
    expect(ledger.list(A, 1000, 50).map((p) => p.port)).toEqual([1000, 999, 998, 997, 996, 995, 994, 993, 992, 991]);
    for (let f = 0; f < 100; f++) ledger.record(f.toString(16).padStart(40, "0"), "127.0.60.3", 1, 2000 + f);
    expect(ledger.size).toBe(25);
    // The oldest anywhere went first: A's entries, then the first files'.
    expect(ledger.list(A, 3000)).toEqual([]);
    expect(ledger.list((99).toString(16).padStart(40, "0"), 3000)).toHaveLength(1);
    expect(ledger.list((0).toString(16).padStart(40, "0"), 3000)).toHaveLength(0);
  });
});
