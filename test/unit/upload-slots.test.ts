import { describe, expect, it } from "vitest";
import { UploadSlots } from "../../peer/swarm/upload-slots.js";

const options = { slots: 2, rechokeMs: 10_000, optimisticMs: 30_000, idleMs: 5_000 };

describe("UploadSlots", () => {
  it("gives free slots at once and refuses the rest with the time to the next rechoke", () => {
    const slots = new UploadSlots(options, 0, () => 0);
    expect(slots.admit("a", 0)).toEqual({ ok: true });
    expect(slots.admit("b", 100)).toEqual({ ok: true });
    expect(slots.admit("a", 200)).toEqual({ ok: true });
    expect(slots.admit("c", 2500)).toEqual({ ok: false, retryAfterSec: 8 });
  });

  it("frees the slot of a holder that stopped asking", () => {
    const slots = new UploadSlots(options, 0, () => 0);
    slots.admit("a", 0);
    slots.admit("b", 0);
    expect(slots.admit("c", 4000).ok).toBe(false);
    slots.admit("b", 4000);
    expect(slots.admit("c", 5500).ok).toBe(true);
  });

  it("keeps a regular slot for the peer that uploads most to us, and turns the other one round", () => {
    const slots = new UploadSlots({ ...options, slots: 2, optimisticMs: 10_000 }, 0, () => 0.99);
    for (const client of ["giver", "x", "y"]) slots.admit(client, 0);
    const samples: string[][] = [];
    for (let t = 1000; t <= 95_000; t += 1000) {
      if (t % 10_000 === 0) slots.credit("giver", 50_000_000, t);
      for (const client of ["giver", "x", "y"]) slots.admit(client, t);
      if (t % 10_000 === 1000) samples.push(slots.status().holders.map((h) => h.client));
    }
    for (const holders of samples) {
      expect(holders).toContain("giver");
      expect(holders).toHaveLength(2);
    }
    const others = new Set(samples.flat().filter((c) => c !== "giver"));
    expect([...others].sort()).toEqual(["x", "y"]);
  });

  it("serves a seed's askers in turns when nobody uploads to it", () => {
    const slots = new UploadSlots({ ...options, slots: 2, optimisticMs: 10_000 }, 0, () => 0.99);
    const served = new Map<string, number>();
    for (let t = 0; t < 120_000; t += 500) {
      for (const client of ["a", "b", "c", "d"]) if (slots.admit(client, t).ok) served.set(client, (served.get(client) ?? 0) + 1);
    }
    for (const client of ["a", "b", "c", "d"]) expect(served.get(client) ?? 0).toBeGreaterThan(30);
  });

  it("never has more holders than slots", () => {
    const slots = new UploadSlots({ ...options, slots: 3 }, 0, Math.random);
    for (let t = 0; t < 60_000; t += 250) {
      for (let c = 0; c < 10; c++) if (Math.random() < 0.5) slots.admit(`c${c}`, t);
      if (Math.random() < 0.1) slots.credit(`c${Math.floor(Math.random() * 10)}`, 1_000_000, t);
      expect(slots.status().holders.length).toBeLessThanOrEqual(3);
    }
  });
});
