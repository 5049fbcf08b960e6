/**
 * A fixed-window request counter per address, held in one Worker isolate. On Cloudflare many isolates
 * serve a Worker, so this bounds what one address gets from each of them, not globally; it stops a single
 * client's flood from reaching the Durable Objects, which is what it is for.
 */
export class RateLimiter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly perMinute: number,
    /** Addresses tracked per window; past it the window restarts rather than grow without bound. */
    private readonly maxAddresses = 100_000,
  ) {}

  /** 0 when the request may go ahead, else the seconds until the address's window resets. */
  take(address: string, now: number): number {
    if (this.perMinute === 0) return 0;
    if (now - this.windowStart >= 60_000 || this.counts.size >= this.maxAddresses) {
      this.windowStart = now;
      this.counts.clear();
    }
    const used = (this.counts.get(address) ?? 0) + 1;
    this.counts.set(address, used);
    if (used <= this.perMinute) return 0;
    return Math.max(1, Math.ceil((this.windowStart + 60_000 - now) / 1000));
  }
}
