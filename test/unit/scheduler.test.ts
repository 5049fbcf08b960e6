import { describe, expect, it } from "vitest";
import { DEFAULT_SCHEDULER_OPTIONS, Scheduler } from "../../peer/download/scheduler.js";

const options = { ...DEFAULT_SCHEDULER_OPTIONS, initialWindow: 2, maxWindow: 4, maxInflight: 100, minStragglerMs: 1000 };

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
});
