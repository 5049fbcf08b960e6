import { describe, expect, it } from "vitest";
import { DialBudget, DEFAULT_DIAL_LIMITS } from "../../tracker-worker/dial-budget.js";
import { isPublicUnicast, isSelf } from "../../tracker-worker/dial-target.js";

describe("dial-back budget", () => {
  it("dials an address and port once, then answers from the verdict until it expires", () => {
    const budget = new DialBudget();
    expect(budget.decide("80.1.1.1", 5001, 0)).toEqual({ kind: "dial" });
    expect(budget.decide("80.1.1.1", 5001, 1)).toEqual({ kind: "pending" });
    budget.finish("80.1.1.1", 5001, true, 10);
    expect(budget.decide("80.1.1.1", 5001, 20)).toEqual({ kind: "known", reachable: true });
    expect(budget.known("80.1.1.1", 5001, 10 + DEFAULT_DIAL_LIMITS.reachableMs)).toBeUndefined();
    budget.finish("80.1.1.2", 5001, false, 0);
    expect(budget.known("80.1.1.2", 5001, DEFAULT_DIAL_LIMITS.unreachableMs - 1)).toBe(false);
    expect(budget.started).toBe(1);
  });

  it("bounds dials per source address, per window and in flight, whatever is announced", () => {
    const budget = new DialBudget({ ...DEFAULT_DIAL_LIMITS, perAddress: 4, perWindow: 10, inFlight: 6 });
    const decisions = Array.from({ length: 1000 }, (_, port) => budget.decide("80.1.1.1", 1024 + port, 0).kind);
    expect(decisions.filter((k) => k === "dial")).toHaveLength(4);
    // Many addresses: in flight caps first, then the window.
    for (let i = 0; i < 100; i++) {
      const d = budget.decide(`80.2.0.${i}`, 5001, 0);
      if (d.kind === "dial") budget.finish(`80.2.0.${i}`, 5001, false, 0);
    }
    expect(budget.started).toBe(10);
    // A new window restores the budget.
    expect(budget.decide("80.3.0.1", 5001, DEFAULT_DIAL_LIMITS.windowMs).kind).toBe("dial");
  });

  it("keeps at most maxVerdicts verdicts", () => {
    const budget = new DialBudget({ ...DEFAULT_DIAL_LIMITS, maxVerdicts: 3 });
    for (let port = 1; port <= 10; port++) budget.finish("80.1.1.1", port, true, 0);
    expect([1, 2, 3, 4, 5, 6, 7].map((port) => budget.known("80.1.1.1", port, 1))).toEqual(Array(7).fill(undefined));
    expect(budget.known("80.1.1.1", 10, 1)).toBe(true);
  });
});

describe("dial-back targets", () => {
  it("dials only public unicast addresses unless told otherwise, and never the tracker itself", () => {
    for (const ip of ["80.100.100.1", "8.8.8.8", "2a00:1450::1", "::ffff:80.1.2.3"]) expect(isPublicUnicast(ip), ip).toBe(true);
    for (const ip of ["10.0.0.1", "127.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "169.254.1.1", "198.18.0.1", "192.0.2.1", "203.0.113.5", "224.0.0.1", "255.255.255.255", "0.0.0.0", "::1", "fe80::1", "fd00::1", "ff02::1", "2001:db8::1", "not an ip"]) {
      expect(isPublicUnicast(ip), ip).toBe(false);
    }
    expect(isSelf("127.0.0.7")).toBe(true);
    expect(isSelf("::1")).toBe(true);
    expect(isSelf("10.0.0.1")).toBe(false);
  });
});
