import { describe, expect, it } from "vitest";
import { Availability } from "../../peer/swarm/availability.js";

const bits = (count: number, have: number[]): Uint8Array => {
  const out = new Uint8Array(Math.ceil(count / 8));
  for (const i of have) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
};

describe("Availability", () => {
  it("counts complete peers for every chunk and incomplete ones for what their bitfield says", () => {
    const a = new Availability(10);
    a.setComplete("seed");
    a.setBitfield("p", bits(10, [0, 9]));
    expect(a.count(0)).toBe(2);
    expect(a.count(5)).toBe(1);
    expect(a.count(9)).toBe(2);
    expect(a.has("p", 9)).toBe(true);
    expect(a.has("p", 8)).toBe(false);
    expect(a.mixed).toBe(true);
  });

  it("grows with added chunks, ignores what is out of range, and forgets a peer entirely", () => {
    const a = new Availability(4);
    a.add("p", 1);
    a.add("p", 1);
    a.add("p", 7);
    a.add("p", -1);
    expect(a.count(1)).toBe(1);
    a.forget("p");
    expect(a.count(1)).toBe(0);
    expect(a.mixed).toBe(false);
  });

  it("turns a complete peer that lacks a chunk into one that has all the others", () => {
    const a = new Availability(3);
    a.setComplete("seed");
    a.lacks("seed", 1);
    expect(a.isComplete("seed")).toBe(false);
    expect([0, 1, 2].map((i) => a.has("seed", i))).toEqual([true, false, true]);
    expect([0, 1, 2].map((i) => a.count(i))).toEqual([1, 0, 1]);
  });

  it("replaces a peer's bitfield rather than adding to it", () => {
    const a = new Availability(8);
    a.setBitfield("p", bits(8, [0, 1]));
    a.setBitfield("p", bits(8, [1]));
    expect(a.count(0)).toBe(0);
    expect(a.count(1)).toBe(1);
  });
});
