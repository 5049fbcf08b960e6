import { describe, expect, it } from "vitest";
import { DEFAULT_SUPER_SEED, SuperSeed } from "../../peer/swarm/super-seed.js";

const options = { ...DEFAULT_SUPER_SEED, reveal: 2, revealInAll: 0, outstandingMs: 5000, unrequestedMs: 1000 };
const shown = (seed: SuperSeed, client: string, now: number): number[] | null => {
  const view = seed.view(client, now);
  return view === null ? null : view.have.since(0, 1000).added;
};

describe("SuperSeed", () => {
  it("shows part to the first clients as they come, and the whole file to a lone client after that", () => {
    const seed = new SuperSeed(10, options);
    expect(seed.view("a", 0)).not.toBeNull();
    expect(seed.view("b", 20_000)).toBeNull();
  });

  it("shows a lone client more at once, and the lowest chunks first", () => {
    const seed = new SuperSeed(100, { ...options, reveal: 2, revealInAll: 12 });
    expect(shown(seed, "a", 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it("shows each client a few chunks nobody else is shown, and another each time it takes one", () => {
    const seed = new SuperSeed(10, options);
    seed.saw("a", 0);
    const a = shown(seed, "b", 0)!;
    const b = shown(seed, "a", 0)!;
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    expect(new Set([...a, ...b]).size).toBe(4);
    seed.sent("a", b[0]!, 10);
    const more = shown(seed, "a", 10)!;
    expect(more).toHaveLength(3);
    expect([...a, ...b]).not.toContain(more[2]);
  });

  it("shows nothing twice until a chunk shown and not asked for in time may go to another", () => {
    const seed = new SuperSeed(4, options);
    seed.saw("b", 0);
    const a = shown(seed, "a", 0)!;
    const b = shown(seed, "b", 0)!;
    expect(shown(seed, "c", 0)).toEqual([]);
    // a asks for what it was shown (it holds a slot); b does not (it is refused one).
    for (const index of a) seed.requested("a", index);
    expect(shown(seed, "c", 1500)).toEqual(b);
    expect(new Set([...a, ...b]).size).toBe(4);
    expect(shown(seed, "d", 5500)).toEqual(a);
  });

  it("gives what a client refused a slot was shown to others at once, and keeps what a slot holder was shown", () => {
    const seed = new SuperSeed(6, options);
    seed.saw("b", 0);
    const a = shown(seed, "a", 0)!;
    const b = shown(seed, "b", 0)!;
    seed.requested("a", a[0]!);
    // b is refused a slot: what it was shown is free for the next client at once, not after unrequestedMs.
    seed.refused("b");
    expect(shown(seed, "c", 10)).toEqual(b);
    expect(shown(seed, "d", 10)).toEqual([4, 5]);
    // Past unrequestedMs, what c never asked for goes on; a's stay a's (it holds a slot and asks in turn).
    expect(shown(seed, "e", 1500)).toEqual(b);
  });

  it("shows chunks only to a client that can be sent data now, and takes back what it was shown when it cannot", () => {
    const can = new Set(["a"]);
    const seed = new SuperSeed(6, options, undefined, (client) => can.has(client));
    seed.saw("b", 0);
    const a = shown(seed, "a", 0)!;
    expect(a).toEqual([0, 1]);
    expect(shown(seed, "b", 0)).toEqual([]);
    // a loses its slot, b gets one: at a's next look it gives back what it was shown and never took, and
    // b is shown those.
    can.delete("a");
    can.add("b");
    seed.view("a", 100);
    expect(shown(seed, "b", 100)).toEqual([0, 1]);
  });

  it("ends once every chunk has been sent, and tells the followers", () => {
    const seed = new SuperSeed(3, options);
    seed.saw("a", 0);
    const view = seed.view("b", 0)!;
    for (const index of [0, 1, 2]) seed.sent("b", index, 5);
    expect(seed.done).toBe(true);
    expect(view.closed).toBe(true);
    expect(seed.view("b", 6)).toBeNull();
  });

  it("sends each chunk about once when every client takes what it is shown", () => {
    const chunks = 200;
    const seed = new SuperSeed(chunks, { ...DEFAULT_SUPER_SEED, reveal: 4, revealInAll: 0 });
    const clients = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for (const c of clients) seed.saw(c, 0);
    const taken = new Map(clients.map((c) => [c, 0]));
    let sends = 0;
    for (let round = 0; !seed.done && round < 1000; round++) {
      for (const c of clients) {
        const view = seed.view(c, round);
        if (view === null) continue;
        const next = view.have.since(taken.get(c)!, 1)?.added[0];
        if (next === undefined) continue;
        taken.set(c, taken.get(c)! + 1);
        seed.sent(c, next, round);
        sends++;
      }
    }
    expect(seed.done).toBe(true);
    expect(sends).toBe(chunks);
  });
});
