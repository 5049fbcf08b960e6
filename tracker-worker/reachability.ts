import type { TrackerConfig } from "./config.js";
import { DialBudget } from "./dial-budget.js";
import { dialBack } from "./dial-back.js";
import { isPublicUnicast, isSelf } from "./dial-target.js";

/**
 * Whether an address and port accept connections, as one Durable Object learns it: the verdicts and bounds of
 * DialBudget, the dials in flight, and the rules of which targets may be dialled at all (docs/protocol.md §1,
 * "Dial-back"). The Swarm (announces) and the RelayRegistry (relay offers) each hold one, so a relay offer is
 * checked by exactly the code and bounds an announce is. Soft state: lost when the object is evicted.
 */

/** How long a reply waits for a dial-back it started; a slower one is reported at the next call. */
const DIAL_REPLY_WAIT_MS = 1000;

export class Reachability {
  private readonly budget = new DialBudget();
  private readonly dialling = new Map<string, Promise<boolean>>();

  constructor(
    private readonly config: TrackerConfig,
    /** Keeps the object alive until a dial that outlives its request finishes (ctx.waitUntil). */
    private readonly keepAlive: (work: Promise<unknown>) => void,
    /** Told every verdict a dial reaches, including those that finish after the reply went. */
    private readonly onVerdict: (ip: string, port: number, reachable: boolean) => void = () => undefined,
  ) {}

  /** Dials started by this object since it was loaded: for tests and the operator. */
  get started(): number {
    return this.budget.started;
  }

  known(ip: string, port: number, now: number): boolean | undefined {
    return this.budget.known(ip, port, now);
  }

  /**
   * A verdict still held, or a dial-back started now and awaited for up to DIAL_REPLY_WAIT_MS. null when not
   * known: dial-back off, `dialIp` (the connection's own address) absent or not `ip`, loopback, a private
   * target on a deployed tracker, or the budget spent.
   */
  async check(ip: string, port: number, dialIp: string | undefined, now: number): Promise<boolean | null> {
    const held = this.budget.known(ip, port, now);
    if (held !== undefined) return held;
    if (!this.config.dialBack || dialIp !== ip || isSelf(ip)) return null;
    if (!this.config.dialBackPrivate && !isPublicUnicast(ip)) return null;
    const decision = this.budget.decide(ip, port, now);
    if (decision.kind === "known") return decision.reachable;
    if (decision.kind === "over_budget") return null;
    const key = `${ip}|${port}`;
    let dial = this.dialling.get(key);
    if (dial === undefined) {
      if (decision.kind === "pending") return null;
      dial = dialBack(ip, port, this.config.dialBackTimeoutMs).then((reachable) => {
        this.budget.finish(ip, port, reachable, Date.now());
        this.dialling.delete(key);
        this.onVerdict(ip, port, reachable);
        return reachable;
      });
      this.dialling.set(key, dial);
      this.keepAlive(dial);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.min(DIAL_REPLY_WAIT_MS, this.config.dialBackTimeoutMs))));
    try {
      return await Promise.race([dial, wait]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}
