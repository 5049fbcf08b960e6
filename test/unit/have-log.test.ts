import { describe, expect, it } from "vitest";
import { HaveLog } from "../../peer/swarm/have-log.js";

describe("HaveLog", () => {
  it("keeps the bitfield and the order chunks arrived in, and tells a follower what came since", () => {
    const log = new HaveLog(10, [3]);
    expect(log.add(7)).toBe(true);
    expect(log.add(7)).toBe(false);
    expect(log.add(10)).toBe(false);
    expect(log.add(0)).toBe(true);
    expect(log.seq).toBe(3);
    expect([...log.bitfield()]).toEqual([0b10010001, 0b00000000]);
    expect(log.since(1, 100)).toEqual({ seq: 3, added: [7, 0] });
    expect(log.since(3, 100)).toEqual({ seq: 3, added: [] });
    expect(log.since(0, 2)).toEqual({ seq: 2, added: [3, 7] });
  });

  it("starts a follower with a position it never had from the beginning", () => {
    const log = new HaveLog(4, [1, 2]);
    expect(log.since(99, 10)).toEqual({ seq: 2, added: [1, 2] });
    expect(log.since(-1, 10)).toEqual({ seq: 2, added: [1, 2] });
  });

  it("is complete once every chunk is in", () => {
    const log = new HaveLog(2);
    log.add(1);
    expect(log.complete).toBe(false);
    log.add(0);
    expect(log.complete).toBe(true);
  });
});
