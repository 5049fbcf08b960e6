/**
 * When each published file is next announced to the DHT: at once when published, then every `intervalMs`
 * give or take `jitter` (so that a daemon's files, and many daemons, spread their announces out), sooner
 * after a failure. Holds at most `limit` files: the DHT stores a peer per file on the nodes nearest its key,
 * and a daemon sharing a whole library must not flood them. Pure: time and chance are passed in.
 */

export interface ScheduleTiming {
  intervalMs: number;
  /** The fraction of the interval each wait may differ by, either way. */
  jitter: number;
  /** The first wait after a failed announce; doubled each failure in a row, up to the interval. */
  retryMs: number;
}

/** BEP 5 nodes forget a peer after about 30 minutes; the issue asks for every 15-30. */
export const DEFAULT_SCHEDULE: ScheduleTiming = { intervalMs: 20 * 60_000, jitter: 0.25, retryMs: 30_000 };

interface Entry {
  next: number;
  /** Announced at least once, and the last one worked. */
  announced: boolean;
  failures: number;
  inFlight: boolean;
}

export class AnnounceSchedule {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly limit: number,
    private readonly timing: ScheduleTiming = DEFAULT_SCHEDULE,
    private readonly random: () => number = Math.random,
  ) {}

  /** Schedules a file for now; false when the schedule is full (it is then not announced). */
  add(sha1: string, now: number): boolean {
    if (this.entries.has(sha1)) return true;
    if (this.entries.size >= this.limit) return false;
    this.entries.set(sha1, { next: now, announced: false, failures: 0, inFlight: false });
    return true;
  }

  remove(sha1: string): void {
    this.entries.delete(sha1);
  }

  has(sha1: string): boolean {
    return this.entries.has(sha1);
  }

  get size(): number {
    return this.entries.size;
  }

  /** How many files the DHT holds an announce of now (their last announce worked). */
  get announced(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.announced) count += 1;
    return count;
  }

  /** Every file due at `now` (the port announced changed: what the DHT holds names the old one). */
  dueAll(now: number): void {
    for (const entry of this.entries.values()) entry.next = Math.min(entry.next, now);
  }

  /** Up to `max` files due at `now`, most overdue first, marked as on their way. */
  take(now: number, max: number): string[] {
    const due = [...this.entries].filter(([, entry]) => !entry.inFlight && entry.next <= now).sort(([, a], [, b]) => a.next - b.next);
    const taken = due.slice(0, Math.max(0, max)).map(([sha1]) => sha1);
    for (const sha1 of taken) this.entries.get(sha1)!.inFlight = true;
    return taken;
  }

  /** An announce ended: the next one is an interval away, or sooner if it failed. */
  done(sha1: string, ok: boolean, now: number): void {
    const entry = this.entries.get(sha1);
    if (entry === undefined) return;
    entry.inFlight = false;
    entry.failures = ok ? 0 : entry.failures + 1;
    if (ok) entry.announced = true;
    const wait = ok ? this.timing.intervalMs : Math.min(this.timing.intervalMs, this.timing.retryMs * 2 ** (entry.failures - 1));
    entry.next = now + Math.round(wait * (1 + this.timing.jitter * (2 * this.random() - 1)));
  }
}
