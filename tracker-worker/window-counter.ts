/**
 * A fixed-window counter for one subject (e.g. the orders sent to one peer): at most `limit` per `windowMs`.
 * Plain values, the clock passed in.
 */
export class WindowCounter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** 0 when one more may go ahead (and counts it), else the whole seconds until the window resets. */
  take(now: number): number {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.limit) {
      this.used += 1;
      return 0;
    }
    return Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000));
  }
}
