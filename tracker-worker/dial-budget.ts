/**
 * What the tracker knows of each address and port it dialled back, and how many dial-backs it may still
 * start: plain values, the clock passed in (swarm.ts holds one per file). The bounds are what keep a flood of
 * announces from turning the tracker into a port scanner of anyone, its announcers included:
 * - a verdict is kept for a while (reachable longer than unreachable), so a re-announce costs no dial;
 * - one address and port is dialled once at a time;
 * - each source address starts at most `perAddress` dials per window, and the object `perWindow` in all;
 * - at most `inFlight` dials are open at once.
 * Every map is capped: past its cap the oldest entries go.
 */

export interface DialLimits {
  windowMs: number;
  perAddress: number;
  perWindow: number;
  inFlight: number;
  reachableMs: number;
  unreachableMs: number;
  maxVerdicts: number;
}

export const DEFAULT_DIAL_LIMITS: DialLimits = {
  windowMs: 60_000,
  perAddress: 4,
  perWindow: 60,
  inFlight: 8,
  reachableMs: 10 * 60_000,
  unreachableMs: 2 * 60_000,
  maxVerdicts: 4096,
};

export type DialDecision =
  | { kind: "known"; reachable: boolean }
  | { kind: "pending" }
  | { kind: "dial" }
  | { kind: "over_budget" };

function key(ip: string, port: number): string {
  return `${ip}|${port}`;
}

export class DialBudget {
  private readonly verdicts = new Map<string, { reachable: boolean; until: number }>();
  private readonly dialling = new Set<string>();
  private readonly perAddress = new Map<string, number>();
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  /** Dials started, ever: for tests and the operator. */
  started = 0;

  constructor(private readonly limits: DialLimits = DEFAULT_DIAL_LIMITS) {}

  /** The verdict on ip:port while it holds, else undefined. */
  known(ip: string, port: number, now: number): boolean | undefined {
    const verdict = this.verdicts.get(key(ip, port));
    if (verdict === undefined) return undefined;
    if (verdict.until <= now) {
      this.verdicts.delete(key(ip, port));
      return undefined;
    }
    return verdict.reachable;
  }

  /** Whether to dial ip:port now; "dial" counts against the budget, and must be followed by finish(). */
  decide(ip: string, port: number, now: number): DialDecision {
    const verdict = this.known(ip, port, now);
    if (verdict !== undefined) return { kind: "known", reachable: verdict };
    if (this.dialling.has(key(ip, port))) return { kind: "pending" };
    if (now - this.windowStart >= this.limits.windowMs) {
      this.windowStart = now;
      this.inWindow = 0;
      this.perAddress.clear();
    }
    const fromAddress = this.perAddress.get(ip) ?? 0;
    if (this.dialling.size >= this.limits.inFlight || this.inWindow >= this.limits.perWindow || fromAddress >= this.limits.perAddress) {
      return { kind: "over_budget" };
    }
    this.inWindow += 1;
    this.perAddress.set(ip, fromAddress + 1);
    this.dialling.add(key(ip, port));
    this.started += 1;
    return { kind: "dial" };
  }

  finish(ip: string, port: number, reachable: boolean, now: number): void {
    this.dialling.delete(key(ip, port));
    const k = key(ip, port);
    this.verdicts.delete(k);
    this.verdicts.set(k, { reachable, until: now + (reachable ? this.limits.reachableMs : this.limits.unreachableMs) });
    while (this.verdicts.size > this.limits.maxVerdicts) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest === undefined) break;
      this.verdicts.delete(oldest);
    }
  }

  get open(): number {
    return this.dialling.size;
  }
}
