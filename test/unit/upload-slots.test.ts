import { describe, expect, it } from "vitest";
import { MAX_CLIENTS, UploadSlots } from "../../peer/swarm/upload-slots.js";

const options = { slots: 2, rechokeMs: 10_000, optimisticMs: 30_000, idleMs: 5_000 };

/** A request answered at once: admitted (or not), and its reply over in the same instant. */
function ask(slots: UploadSlots, client: string, now: number): boolean {
  const admission = slots.admit(client, now);
  if (admission.ok) slots.release(client, now);
  return admission.ok;
}

describe("UploadSlots", () => {
  it("gives free slots at once and refuses the rest with the time to the next rechoke", () => {
    const slots = new UploadSlots(options, 0, () => 0);
    expect(slots.admit("a", 0)).toEqual({ ok: true });
    expect(slots.admit("b", 100)).toEqual({ ok: true });
    expect(slots.admit("a", 200)).toEqual({ ok: true });
    expect(slots.admit("c", 2500)).toEqual({ ok: false, retryAfterSec: 8 });
  });

  it("says who would be admitted without admitting, and counts the asking as interest at the rechoke", () => {
    const slots = new UploadSlots({ ...options, slots: 1 }, 0, () => 0);
    expect(slots.wouldAdmit("a", 0)).toBe(true);
    expect(slots.status().holders).toEqual([]);
    expect(ask(slots, "a", 0)).toBe(true);
    expect(slots.wouldAdmit("b", 100)).toBe(false);
    // a keeps asking; b only follows (a super-seeding view): at the rechoke the slot turns round to b.
    for (let t = 1000; t <= 10_000; t += 1000) {
      ask(slots, "a", t);
      slots.wouldAdmit("b", t);
    }
    expect(slots.wouldAdmit("b", 10_000)).toBe(true);
    expect(slots.status().holders.map((h) => h.client)).toEqual(["b"]);
  });

  it("frees the slot of a holder that stopped asking", () => {
    const slots = new UploadSlots(options, 0, () => 0);
    ask(slots, "a", 0);
    ask(slots, "b", 0);
    expect(ask(slots, "c", 4000)).toBe(false);
    ask(slots, "b", 4000);
    expect(ask(slots, "c", 5500)).toBe(true);
  });

  it("keeps a regular slot for the peer that uploads most to us, and turns the other one round", () => {
    const slots = new UploadSlots({ ...options, slots: 2, optimisticMs: 10_000 }, 0, () => 0.99);
    for (const client of ["giver", "x", "y"]) ask(slots, client, 0);
    const samples: string[][] = [];
    for (let t = 1000; t <= 95_000; t += 1000) {
      if (t % 10_000 === 0) slots.credit("giver", 50_000_000, t);
      for (const client of ["giver", "x", "y"]) ask(slots, client, t);
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
      for (const client of ["a", "b", "c", "d"]) if (ask(slots, client, t)) served.set(client, (served.get(client) ?? 0) + 1);
    }
    for (const client of ["a", "b", "c", "d"]) expect(served.get(client) ?? 0).toBeGreaterThan(30);
  });

  it("never has more holders than slots", () => {
    const slots = new UploadSlots({ ...options, slots: 3 }, 0, Math.random);
    for (let t = 0; t < 60_000; t += 250) {
      for (let c = 0; c < 10; c++) if (Math.random() < 0.5) ask(slots, `c${c}`, t);
      if (Math.random() < 0.1) slots.credit(`c${Math.floor(Math.random() * 10)}`, 1_000_000, t);
      expect(slots.status().holders.length).toBeLessThanOrEqual(3);
    }
  });

  it("a waiter that honours its Retry-After gets its turn at the rechoke and keeps it", () => {
    const slots = new UploadSlots({ ...options, slots: 2, optimisticMs: 10_000 }, 0, () => 0);
    const busy = ["a", "b"];
    let waiterServed = 0;
    let retryAt = 0;
    for (let t = 0; t < 60_000; t += 250) {
      for (const c of busy) ask(slots, c, t);
      if (t >= retryAt) {
        const admission = slots.admit("w", t);
        if (admission.ok) {
          slots.release("w", t);
          waiterServed++;
        } else retryAt = t + admission.retryAfterSec * 1000;
      }
    }
    expect(waiterServed).toBeGreaterThan(20);
  });

  it("a reply still being sent keeps its slot, however long it takes", () => {
    const slots = new UploadSlots(options, 0, () => 0);
    expect(slots.admit("long", 0).ok).toBe(true);
    for (const t of [0, 4_000, 8_000, 12_000]) ask(slots, "b", t);
    expect(ask(slots, "c", 8_000)).toBe(false);
    slots.release("long", 9_000);
    expect(ask(slots, "c", 9_500)).toBe(false);
    expect(ask(slots, "c", 14_500)).toBe(true);
  });

  it("remembers a bounded number of addresses, never forgetting a holder", () => {
    const slots = new UploadSlots(options, 0, () => 0);
    ask(slots, "holder", 0);
    for (let i = 0; i < MAX_CLIENTS + 500; i++) slots.admit(`stranger-${i}`, 1 + i / 1000);
    const status = slots.status();
    expect(status.holders.map((h) => h.client)).toContain("holder");
    expect(status.waiting).toBeLessThanOrEqual(MAX_CLIENTS);
  });

  it("with a single slot, deals it round at every rechoke", () => {
    const slots = new UploadSlots({ ...options, slots: 1 }, 0, () => 0);
    const holders = new Set<string>();
    for (let t = 0; t < 40_000; t += 500) {
      for (const c of ["a", "b", "c"]) ask(slots, c, t);
      holders.add(slots.status().holders[0]?.client ?? "");
    }
    expect([...holders].sort()).toEqual(["a", "b", "c"]);
  });
});
