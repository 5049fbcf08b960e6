import { describe, expect, it } from "vitest";
import { KeyedWindowCounter } from "../../tracker-worker/window-counter.js";

describe("KeyedWindowCounter", () => {
  it("counts each key in its own window", () => {
    const counter = new KeyedWindowCounter(2, 10_000);
    expect([counter.take("a", 0), counter.take("a", 1), counter.take("a", 2)]).toEqual([0, 0, 10]);
    expect(counter.take("b", 3)).toBe(0);
    expect(counter.take("a", 9_001)).toBe(1);
    expect(counter.take("a", 10_000)).toBe(0);
  });

  it("holds at most maxKeys: past it, over windows go first, then the oldest, which start afresh", () => {
    const counter = new KeyedWindowCounter(1, 10_000, 3);
    for (const key of ["a", "b", "c"]) expect(counter.take(key, 0)).toBe(0);
    expect(counter.take("d", 5_000)).toBe(0);
    expect(counter.size).toBe(3);
    // "a" was the oldest: forgotten, so it may go again; "c" is still held and still spent.
    expect(counter.take("c", 5_001)).toBeGreaterThan(0);
    expect(counter.take("a", 5_002)).toBe(0);
    expect(counter.size).toBe(3);
    // Once every window is over, all of them are dropped to make room.
    expect(counter.take("e", 20_000)).toBe(0);
    expect(counter.size).toBe(1);
  });
});
