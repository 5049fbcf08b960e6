import { describe, expect, it } from "vitest";
import { DEFAULT_SCHEDULER_OPTIONS, Scheduler } from "../../peer/download/scheduler.js";

const options = { ...DEFAULT_SCHEDULER_OPTIONS, initialWindow: 2, maxWindow: 4, maxInflight: 100, minStragglerMs: 1000, randomFirst: 0 };

describe("Scheduler", () => {
  it("hands out chunks in ascending order, round-robin, within each peer's window", () => {
    const s = new Scheduler(10, [], options);
    s.addPeer("a");
    s.addPeer("b");
    expect(s.assign(0)).toEqual([
      { peer: "a", index: 0 },
      { peer: "b", index: 1 },
      { peer: "a", index: 2 },
      { peer: "b", index: 3 },
    ]);
    expect(s.assign(0)).toEqual([]);
  });

  it("skips chunks verified before a resume and is done when all are verified", () => {
    const s = new Scheduler(3, [0, 2], options);
    s.addPeer("a");
    expect(s.assign(0)).toEqual([{ peer: "a", index: 1 }]);
    expect(s.succeeded("a", 1, 10, 5).counted).toBe(true);
    expect(s.done).toBe(true);
  });

  it("gives more to a peer that delivers: its window grows, a failing peer's halves", () => {
    const s = new Scheduler(100, [], options);
    s.addPeer("fast");
    s.addPeer("slow");
    s.assign(0);
    for (let round = 0; round < 3; round++) {
      for (const index of s.inflightOf("fast")) s.succeeded("fast", index, 1, 1);
      s.assign(1);
    }
    expect(s.inflightOf("fast")).toHaveLength(4);
    for (const index of s.inflightOf("slow")) s.failed("slow", index);
    s.assign(2);
    expect(s.inflightOf("slow")).toHaveLength(1);
  });

  it("bans a peer after maxStrikes broken answers and gives its chunks to others", () => {
    const s = new Scheduler(10, [], { ...options, maxStrikes: 2 });
    s.addPeer("broken");
    s.addPeer("honest");
    s.assign(0);
    expect(s.misbehaved("broken", 0, "broken")).toBe(false);
    expect(s.usablePeers()).toEqual(["broken", "honest"]);
    expect(s.misbehaved("broken", 2, "broken")).toBe(true);
    expect(s.usablePeers()).toEqual(["honest"]);
    expect(s.addPeer("broken")).toBe(false);
    const next = s.assign(1);
    expect(next.every((a) => a.peer === "honest")).toBe(true);
    expect(s.stats().find((p) => p.key === "broken")).toMatchObject({ banned: true, strikes: 2, bytes: 0 });
  });

  it("bans a peer at its first lie, whatever maxStrikes says", () => {
    const s = new Scheduler(10, [], { ...options, maxStrikes: 5 });
    s.addPeer("liar");
    s.addPeer("honest");
    s.assign(0);
    expect(s.misbehaved("liar", 0, "lie")).toBe(true);
    expect(s.usablePeers()).toEqual(["honest"]);
    expect(s.addPeer("liar")).toBe(false);
    expect(s.stats().find((p) => p.key === "liar")).toMatchObject({ banned: true, strikes: 1, bytes: 0 });
  });

  it("drops a peer after repeated failures, and a refill can bring it back", () => {
    const s = new Scheduler(10, [], { ...options, maxFailures: 2 });
    s.addPeer("flaky");
    s.assign(0);
    s.failed("flaky", 0);
    s.failed("flaky", 1);
    expect(s.usablePeers()).toEqual([]);
    expect(s.addPeer("flaky")).toBe(true);
    expect(s.usablePeers()).toEqual(["flaky"]);
  });

  it("drops a peer at once when it was too slow to deliver a chunk", () => {
    const s = new Scheduler(10, [], options);
    s.addPeer("slow");
    s.addPeer("ok");
    s.assign(0);
    s.failed("slow", 0, "timeout");
    expect(s.usablePeers()).toEqual(["ok"]);
  });

  it("an aborted duplicate does not count against the peer", () => {
    const s = new Scheduler(10, [], { ...options, maxFailures: 1 });
    s.addPeer("a");
    s.assign(0);
    s.failed("a", 0, "cancelled");
    expect(s.usablePeers()).toEqual(["a"]);
  });

  it("in the endgame asks a second peer for a chunk another holds, and cancels the loser", () => {
    const s = new Scheduler(2, [], { ...options, initialWindow: 1 });
    s.addPeer("slow");
    s.addPeer("fast");
    expect(s.assign(0)).toEqual([
      { peer: "slow", index: 0 },
      { peer: "fast", index: 1 },
    ]);
    s.succeeded("fast", 1, 1, 10);
    expect(s.assign(20)).toEqual([{ peer: "fast", index: 0 }]);
    const { counted, cancel } = s.succeeded("fast", 0, 1, 30);
    expect(counted).toBe(true);
    expect(cancel).toEqual([{ peer: "slow", index: 0 }]);
    expect(s.succeeded("slow", 0, 1, 40).counted).toBe(false);
    expect(s.done).toBe(true);
    expect(s.stats().find((p) => p.key === "slow")?.bytes).toBe(0);
  });

  it("in the endgame copies only onto a peer with nothing in flight, the request begun last first", () => {
    const s = new Scheduler(4, [], { ...options, initialWindow: 3, maxWindow: 3 });
    s.addPeer("busy");
    expect(s.assign(0).map((a) => a.index)).toEqual([0, 1, 2]);
    s.succeeded("busy", 0, 1, 10);
    expect(s.assign(10)).toEqual([{ peer: "busy", index: 3 }]);
    // Nothing is unassigned now: a newcomer with nothing in flight takes a copy of chunk 3, begun last.
    s.addPeer("idle");
    expect(s.assign(20)).toEqual([{ peer: "idle", index: 3 }]);
    // "busy" has a free slot again, but copies go only to a peer with nothing in flight.
    s.succeeded("busy", 1, 1, 30);
    expect(s.assign(30)).toEqual([]);
    const { cancel } = s.succeeded("idle", 3, 1, 40);
    expect(cancel).toEqual([{ peer: "busy", index: 3 }]);
    s.failed("busy", 3, "cancelled");
    expect(s.assign(40)).toEqual([{ peer: "idle", index: 2 }]);
  });

  it("before the endgame duplicates only a straggler, one held far longer than chunks take", () => {
    const s = new Scheduler(100, [], { ...options, initialWindow: 1, maxWindow: 1 });
    s.addPeer("stuck");
    s.addPeer("b");
    s.assign(0);
    // b finishes chunk after chunk quickly while stuck holds chunk 0.
    let now = 0;
    for (let i = 1; i < 98; i++) {
      const [index] = s.inflightOf("b");
      now += 20;
      s.succeeded("b", index!, 1, now);
      const next = s.assign(now);
      if (next.some((a) => a.index === 0)) break;
    }
    expect(s.inflightOf("b")).toContain(0);
    expect(now).toBeGreaterThanOrEqual(options.minStragglerMs);
    expect(now).toBeLessThan(options.minStragglerMs + 100);
  });

  it("never has more requests in flight than the global cap or the free buffers", () => {
    const s = new Scheduler(100, [], { ...options, maxWindow: 8, initialWindow: 8, maxInflight: 5 });
    for (const peer of ["a", "b", "c"]) s.addPeer(peer);
    expect(s.assign(0)).toHaveLength(5);
    const t = new Scheduler(100, [], options);
    t.addPeer("a");
    expect(t.assign(0, 1)).toHaveLength(1);
  });

  it("shares the work among peers when free buffers, not windows, are what limits", () => {
    const s = new Scheduler(300, [], { ...options, initialWindow: 6, maxWindow: 6 });
    for (const peer of ["a", "b", "c"]) s.addPeer(peer);
    // One buffer comes free at a time, and every request is answered before the next buffer frees.
    for (let round = 0; round < 60; round++) {
      for (const { peer, index } of s.assign(round, 1)) s.succeeded(peer, index, 1, round);
    }
    expect(s.stats().map((p) => p.chunks)).toEqual([20, 20, 20]);
  });

  it("asks the peer that answers sooner more often", () => {
    const s = new Scheduler(1000, [], { ...options, initialWindow: 4, maxWindow: 4, maxInflight: 6 });
    s.addPeer("fast");
    s.addPeer("slow");
    s.assign(0);
    // The fast peer answers every request at once; the slow one one request every fourth round.
    for (let round = 1; round <= 40; round++) {
      for (const index of s.inflightOf("fast")) s.succeeded("fast", index, 1, round);
      if (round % 4 === 0) s.succeeded("slow", s.inflightOf("slow")[0] ?? -1, 1, round);
      s.assign(round);
    }
    const [fast, slow] = s.stats();
    expect(fast?.chunks).toBeGreaterThan(3 * (slow?.chunks ?? 0));
  });

  describe("in a swarm", () => {
    /** A deterministic stand-in for Math.random: a linear congruential sequence. */
    const seeded = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const bits = (count: number, have: number[]): Uint8Array => {
      const out = new Uint8Array(Math.ceil(count / 8));
      for (const i of have) out[i >> 3]! |= 0x80 >> (i & 7);
      return out;
    };

    it("asks a peer only for chunks it has, and an incomplete peer nothing until its bitfield is known", () => {
      const s = new Scheduler(8, [], { ...options, maxWindowInSwarm: 2 });
      s.addPeer("partial", false);
      expect(s.assign(0)).toEqual([]);
      s.availability.setBitfield("partial", bits(8, [5, 6]));
      expect(s.assign(0).map((a) => a.index).sort()).toEqual([5, 6]);
      s.availability.add("partial", 2);
      expect(s.assign(0)).toEqual([]);
      s.succeeded("partial", 5, 1, 1);
      expect(s.assign(1)).toEqual([{ peer: "partial", index: 2 }]);
    });

    it("takes the rarest chunk first, ties at random", () => {
      const s = new Scheduler(6, [], { ...options, initialWindow: 1, maxWindow: 1 }, seeded(7));
      s.addPeer("seed");
      s.addPeer("a", false);
      s.addPeer("b", false);
      // Chunks 0-3 are held by three peers, 4 and 5 by the seed alone.
      s.availability.setBitfield("a", bits(6, [0, 1, 2, 3]));
      s.availability.setBitfield("b", bits(6, [0, 1, 2, 3]));
      const first = s.assign(0).find((x) => x.peer === "seed");
      expect([4, 5]).toContain(first?.index);
      const picks = new Set<number>();
      for (let seed = 1; seed <= 20; seed++) {
        const t = new Scheduler(6, [], { ...options, initialWindow: 1, maxWindow: 1 }, seeded(seed));
        t.addPeer("seed");
        t.addPeer("a", false);
        t.availability.setBitfield("a", bits(6, [0, 1, 2, 3]));
        const pick = t.assign(0).find((x) => x.peer === "seed")?.index;
        if (pick !== undefined) picks.add(pick);
      }
      expect([...picks].sort()).toEqual([4, 5]);
    });

    it("draws the first chunks at random, then goes in ascending order when every peer is complete", () => {
      const firsts = new Set<number>();
      for (let seed = 1; seed <= 20; seed++) {
        const s = new Scheduler(100, [], { ...options, randomFirst: 2, initialWindow: 1, maxWindow: 1 }, seeded(seed));
        s.addPeer("seed");
        const [a] = s.assign(0);
        firsts.add(a!.index);
        s.succeeded("seed", a!.index, 1, 1);
        const [b] = s.assign(1);
        s.succeeded("seed", b!.index, 1, 2);
        const [c] = s.assign(2);
        expect(c!.index).toBe([0, 1, 2].find((i) => i !== a!.index && i !== b!.index));
      }
      expect(firsts.size).toBeGreaterThan(5);
    });

    it("does not hold a refusal against a peer, but waits out its Retry-After", () => {
      const s = new Scheduler(10, [], options);
      s.addPeer("busy");
      const [first] = s.assign(0);
      s.refused("busy", first!.index, 1000, 0);
      for (const index of s.inflightOf("busy")) s.refused("busy", index, 1000, 0);
      expect(s.assign(500)).toEqual([]);
      expect(s.assign(1000).length).toBe(2);
      expect(s.usablePeers()).toEqual(["busy"]);
    });

    it("keeps at most maxWindowInSwarm requests at each peer while some peer is incomplete", () => {
      const s = new Scheduler(100, [], { ...options, initialWindow: 4, maxWindow: 4, maxWindowInSwarm: 2, randomFirst: 0 });
      s.addPeer("seed");
      expect(s.assign(0)).toHaveLength(4);
      const t = new Scheduler(100, [], { ...options, initialWindow: 4, maxWindow: 4, maxWindowInSwarm: 2, randomFirst: 0 });
      t.addPeer("seed");
      t.addPeer("partial", false);
      t.availability.setBitfield("partial", new Uint8Array(13).fill(0xff));
      const assigned = t.assign(0);
      expect(assigned.filter((a) => a.peer === "seed")).toHaveLength(2);
      expect(assigned.filter((a) => a.peer === "partial")).toHaveLength(2);
    });

    it("drops a peer that has refused every request for longer than maxRefusedMs", () => {
      const s = new Scheduler(10, [], { ...options, maxRefusedMs: 60_000 });
      s.addPeer("never");
      for (let t = 0; t <= 61_000; t += 1000) for (const { peer, index } of s.assign(t)) s.refused(peer, index, t + 1000, t);
      expect(s.usablePeers()).toEqual([]);
      expect(s.anyRefusing(62_000)).toBe(false);
    });

    it("stops asking for a chunk a peer turned out to lack, and knows when no usable peer has what is missing", () => {
      const s = new Scheduler(3, [], { ...options, initialWindow: 1, maxWindow: 1 });
      s.addPeer("a");
      const [first] = s.assign(0);
      expect(first?.index).toBe(0);
      s.missing("a", 0);
      expect(s.availability.has("a", 0)).toBe(false);
      expect(s.canProgress()).toBe(false);
      const [next] = s.assign(1);
      expect([1, 2]).toContain(next?.index);
      s.availability.add("a", 0);
      expect(s.canProgress()).toBe(true);
    });
  });
});
