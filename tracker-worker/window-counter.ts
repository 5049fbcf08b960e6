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

/**
 * A WindowCounter per key (e.g. per asker address), each with its own window. At most `maxKeys` are held:
 * past it, keys whose window is over are forgotten, then the oldest ones; a forgotten key starts afresh,
 * which only lets it spend what another bound (the subject's own WindowCounter) still allows.
 */
export class KeyedWindowCounter {
  private readonly counters = new Map<string, { start: number; used: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 1024,
  ) {}

  /** 0 when one more may go ahead for `key` (and counts it), else the whole seconds until its window resets. */
  take(key: string, now: number): number {
    let counter = this.counters.get(key);
    if (counter === undefined || now - counter.start >= this.windowMs) {
      this.counters.delete(key);
      this.makeRoom(now);
      counter = { start: now, used: 0 };
      this.counters.set(key, counter);
    }
    if (counter.used < this.limit) {
      counter.used += 1;
      return 0;
    }
    return Math.max(1, Math.ceil((counter.start + this.windowMs - now) / 1000));
  }

  /** Keys held now: for tests. */
  get size(): number {
    return this.counters.size;
  }

  private makeRoom(now: number): void {
    if (this.counters.size < this.maxKeys) return;
    for (const [key, counter] of this.counters) if (now - counter.start >= this.windowMs) this.counters.delete(key);
    // A Map iterates in insertion order, and a key is re-inserted when its window restarts: first is oldest.
    for (const key of this.counters.keys()) {
      if (this.counters.size < this.maxKeys) break;
      this.counters.delete(key);
    }
  }
}
