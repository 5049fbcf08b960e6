/**
 * A token bucket: `rate` bytes per second, up to `burst` saved while idle. Pure: time is passed in (ms).
 * A rate of 0 is no limit: everything goes at once. Sending asks first (`take`); receiving pays after the
 * fact (`charge`, the level goes below zero) and waits until the debt is paid (`owed`).
 */

/** The pieces a limited transfer moves in: about 1/16 s of the rate, between 1 KiB and 64 KiB. */
export function sliceFor(rate: number): number {
  return Math.min(64 * 1024, Math.max(1024, Math.floor(rate / 16)));
}

/** What may go at once after a pause: 1/10 s of the rate, and at least two slices. */
export function burstFor(rate: number): number {
  return Math.max(Math.floor(rate / 10), 2 * sliceFor(rate));
}

export class TokenBucket {
  private level = 0;
  private updated: number;
  private currentRate = 0;
  private currentBurst = 0;

  constructor(rate: number, now: number) {
    this.updated = now;
    this.setRate(rate, now);
  }

  get rate(): number {
    return this.currentRate;
  }

  get burst(): number {
    return this.currentBurst;
  }

  /**
   * A new rate from `now` on. Tokens saved stay (up to the new burst) and a debt stays in bytes, paid at the
   * new rate; coming from no limit, the bucket starts full.
   */
  setRate(rate: number, now: number): void {
    if (!Number.isFinite(rate) || rate < 0) throw new RangeError("a rate is 0 (no limit) or more");
    this.refill(now);
    const wasUnlimited = this.currentRate === 0;
    this.currentRate = rate;
    this.currentBurst = rate === 0 ? 0 : burstFor(rate);
    this.level = rate === 0 ? 0 : wasUnlimited ? this.currentBurst : Math.min(this.level, this.currentBurst);
  }

  /**
   * Asks to send `bytes`: 0 when they may go now (they are taken), otherwise the ms to wait before asking
   * again (nothing taken). More than a burst at once goes once the bucket is full, leaving it in debt.
   */
  take(bytes: number, now: number): number {
    if (this.currentRate === 0) return 0;
    this.refill(now);
    const need = Math.min(bytes, this.currentBurst);
    if (this.level >= need) {
      this.level -= bytes;
      return 0;
    }
    return Math.max(1, Math.ceil(((need - this.level) * 1000) / this.currentRate));
  }

  /** Pays for `bytes` already received; returns the ms until the debt is paid (0: none). */
  charge(bytes: number, now: number): number {
    if (this.currentRate === 0) return 0;
    this.refill(now);
    this.level -= bytes;
    return this.owedAfterRefill();
  }

  /** The ms until the bucket is out of debt (0: it is not in debt). */
  owed(now: number): number {
    if (this.currentRate === 0) return 0;
    this.refill(now);
    return this.owedAfterRefill();
  }

  private owedAfterRefill(): number {
    return this.level >= 0 ? 0 : Math.max(1, Math.ceil((-this.level * 1000) / this.currentRate));
  }

  private refill(now: number): void {
    if (now <= this.updated) return;
    if (this.currentRate > 0) this.level = Math.min(this.currentBurst, this.level + ((now - this.updated) * this.currentRate) / 1000);
    this.updated = now;
  }
}
