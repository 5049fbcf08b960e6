import { describe, expect, it } from "vitest";
import { PeerTable, type AnnounceInput } from "../../tracker-worker/peer-table.js";

const limits = { ttlMs: 3000, maxPeers: 100, maxPerAddress: 3 };

function peer(peerId: string, over: Partial<AnnounceInput> = {}): AnnounceInput {
  return { peerId, keyHash: `key-${peerId}`, ip: `10.0.0.${peerId.length}`, port: 5001, complete: true, stopped: false, ...over };
}

/** A deterministic random source, so that sampling tests are repeatable. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("PeerTable announce and key ownership", () => {
  it("adds a new peer and reports it created", () => {
    const table = new PeerTable(limits);
    const outcome = table.announce(peer("a"), 1000);
    expect(outcome).toMatchObject({ kind: "upserted", created: true, peer: { peerId: "a", expiresAt: 4000 } });
    expect(table.size).toBe(1);
  });

  it("lets the same key refresh the entry and move it", () => {
    const table = new PeerTable(limits);
    table.announce(peer("a"), 1000);
    const outcome = table.announce(peer("a", { port: 6000, ip: "10.9.9.9" }), 2000);
    expect(outcome).toMatchObject({ kind: "upserted", created: false, refreshOnly: false, peer: { port: 6000, ip: "10.9.9.9", expiresAt: 5000 } });
    expect(table.announce(peer("a", { port: 6000, ip: "10.9.9.9" }), 2500)).toMatchObject({ refreshOnly: true });
    expect(table.size).toBe(1);
  });

  it("refuses another key for a live entry, for updates and for stopped", () => {
    const table = new PeerTable(limits);
    table.announce(peer("a"), 1000);
    expect(table.announce(peer("a", { keyHash: "other" }), 1500).kind).toBe("key_mismatch");
    expect(table.announce(peer("a", { keyHash: "other", stopped: true }), 1500).kind).toBe("key_mismatch");
    expect(table.get("a")?.keyHash).toBe("key-a");
  });

  it("frees the id of an expired entry for a new key", () => {
    const table = new PeerTable(limits);
    table.announce(peer("a"), 1000);
    const outcome = table.announce(peer("a", { keyHash: "new-owner" }), 4000);
    expect(outcome).toMatchObject({ kind: "upserted", created: true });
    expect(table.get("a")?.keyHash).toBe("new-owner");
  });

  it("removes an entry on stopped with its key, and says absent for an unknown one", () => {
    const table = new PeerTable(limits);
    table.announce(peer("a"), 1000);
    expect(table.announce(peer("a", { stopped: true }), 1200)).toEqual({ kind: "removed", keys: ["a/4"] });
    expect(table.size).toBe(0);
    expect(table.announce(peer("zz", { stopped: true }), 1200)).toEqual({ kind: "absent" });
  });

  it("keeps one entry per address family of a peer: both listed, one key owning both, stopped removing both", () => {
    const table = new PeerTable(limits);
    expect(table.announce(peer("a", { ip: "10.0.0.1" }), 1000)).toMatchObject({ kind: "upserted", created: true });
    expect(table.announce(peer("a", { ip: "2001:db8::1" }), 1000)).toMatchObject({ kind: "upserted", created: true });
    expect(table.size).toBe(2);
    expect(table.get("a", "2001:db8::1")?.ip).toBe("2001:db8::1");
    expect(table.get("a")?.ip).toBe("10.0.0.1");
    expect(table.sample(50, 1500).map((p) => p.ip).sort()).toEqual(["10.0.0.1", "2001:db8::1"]);
    expect(table.sample(50, 1500, "a")).toEqual([]);
    expect(table.counts(1500)).toEqual({ complete: 1, incomplete: 0 });
    // The IPv4 entry's key holds the id for the other family too.
    expect(table.announce(peer("a", { ip: "2001:db8::2", keyHash: "thief" }), 1500).kind).toBe("key_mismatch");
    // A new IPv6 address replaces the IPv6 entry only.
    table.announce(peer("a", { ip: "2001:db8::2" }), 1600);
    expect(table.sample(50, 1700).map((p) => p.ip).sort()).toEqual(["10.0.0.1", "2001:db8::2"]);
    expect(table.announce(peer("a", { stopped: true }), 1800)).toEqual({ kind: "removed", keys: ["a/4", "a/6"] });
    expect(table.size).toBe(0);
  });

  it("caps entries per address, counting a moved entry at its new address", () => {
    const table = new PeerTable(limits);
    for (const id of ["p1", "p2", "p3"]) expect(table.announce(peer(id, { ip: "1.1.1.1" }), 0).kind).toBe("upserted");
    expect(table.announce(peer("p4", { ip: "1.1.1.1" }), 0).kind).toBe("address_limit");
    expect(table.announce(peer("p4", { ip: "2.2.2.2" }), 0).kind).toBe("upserted");
    expect(table.announce(peer("p4", { ip: "1.1.1.1" }), 0).kind).toBe("address_limit");
    // Re-announcing from the same address is not a new entry there.
    expect(table.announce(peer("p1", { ip: "1.1.1.1" }), 10).kind).toBe("upserted");
    table.announce(peer("p1", { ip: "1.1.1.1", stopped: true }), 20);
    expect(table.announce(peer("p4", { ip: "1.1.1.1" }), 30).kind).toBe("upserted");
  });

  it("refuses new peers past the swarm cap but still refreshes existing ones", () => {
    const table = new PeerTable({ ...limits, maxPeers: 2, maxPerAddress: 10 });
    table.announce(peer("a"), 0);
    table.announce(peer("bb"), 0);
    expect(table.announce(peer("ccc"), 0).kind).toBe("swarm_full");
    expect(table.announce(peer("a"), 1).kind).toBe("upserted");
  });
});

describe("PeerTable sampling", () => {
  function filled(count: number, now = 0): PeerTable {
    const table = new PeerTable({ ttlMs: 3000, maxPeers: 10_000, maxPerAddress: 10_000 });
    for (let i = 0; i < count; i++) table.announce(peer(`p${i}`, { ip: "10.0.0.1" }), now);
    return table;
  }

  it("returns at most the limit, never duplicates, never the caller", () => {
    const table = filled(120);
    const sample = table.sample(50, 1, "p7", seeded(1));
    expect(sample).toHaveLength(50);
    expect(new Set(sample.map((p) => p.peerId)).size).toBe(50);
    expect(sample.some((p) => p.peerId === "p7")).toBe(false);
  });

  it("returns everyone when the swarm is smaller than the limit, and nobody for a limit of 0", () => {
    const table = filled(5);
    expect(table.sample(50, 1, undefined, seeded(2))).toHaveLength(5);
    expect(table.sample(50, 1, "p0", seeded(2))).toHaveLength(4);
    expect(table.sample(0, 1)).toEqual([]);
  });

  it("reaches every peer over many samples (not always the first ones)", () => {
    const table = filled(40);
    const random = seeded(3);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const p of table.sample(5, 1, undefined, random)) seen.add(p.peerId);
    expect(seen.size).toBe(40);
  });

  it("never returns an expired peer, even before the sweep", () => {
    const table = filled(3, 0);
    table.announce(peer("late", { ip: "10.0.0.2" }), 2000);
    expect(table.sample(50, 3500).map((p) => p.peerId)).toEqual(["late"]);
    expect(table.counts(3500)).toEqual({ complete: 1, incomplete: 0 });
  });

  it("returns only the public fields", () => {
    const [entry] = filled(1).sample(1, 1);
    expect(Object.keys(entry ?? {}).sort()).toEqual(["complete", "ip", "peerId", "port"]);
  });
});

describe("PeerTable expiry", () => {
  it("expires exactly the entries whose time is up and tells the next expiry", () => {
    const table = new PeerTable(limits);
    table.announce(peer("a"), 0);
    table.announce(peer("bb"), 1000);
    expect(table.nextExpiry()).toBe(3000);
    expect(table.expire(2999)).toEqual([]);
    expect(table.expire(3000)).toEqual(["a/4"]);
    expect(table.nextExpiry()).toBe(4000);
    expect(table.expire(5000)).toEqual(["bb/4"]);
    expect(table.nextExpiry()).toBeNull();
    expect(table.size).toBe(0);
  });

  it("frees the address slots of expired entries", () => {
    const table = new PeerTable({ ...limits, maxPerAddress: 1 });
    table.announce(peer("a", { ip: "1.1.1.1" }), 0);
    expect(table.announce(peer("bb", { ip: "1.1.1.1" }), 100).kind).toBe("address_limit");
    table.expire(3000);
    expect(table.announce(peer("bb", { ip: "1.1.1.1" }), 3000).kind).toBe("upserted");
  });
});
