import { performance } from "node:perf_hooks";
import { sliceFor, TokenBucket } from "./token-bucket.js";

/**
 * One direction's limit, shared by every transfer of the daemon: a token bucket (token-bucket.ts) and a
 * queue of the transfers waiting on it, served in order by one timer. With no limit, `take` and `charge`
 * return null at once and nothing is queued: the unlimited path costs a property read.
 */

interface Waiter {
  /** What it wants to send; 0: it received already and waits for the debt to be paid. */
  bytes: number;
  resolve: () => void;
}

export class RateLimiter {
  private readonly bucket: TokenBucket;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    rate = 0,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucket = new TokenBucket(rate, now());
  }

  /** Bytes per second; 0 = no limit. */
  get rate(): number {
    return this.bucket.rate;
  }

  get limited(): boolean {
    return this.bucket.rate !== 0;
  }

  /** How much a limited transfer moves at a time (writes it makes, reads it allows). */
  get slice(): number {
    return sliceFor(this.bucket.rate);
  }

  /** Takes effect at once, for the transfers waiting too (a new limit, or none, decides their turn). */
  setRate(rate: number): void {
    this.bucket.setRate(rate, this.now());
    if (this.timer !== null) clearTimeout(this.timer);
    this.pump();
  }

  /** Before sending `bytes`: null when they may go now, otherwise a promise that resolves when they may. */
  take(bytes: number): Promise<void> | null {
    if (!this.limited) return null;
    if (this.queue.length === 0 && this.bucket.take(bytes, this.now()) === 0) return null;
    return this.enqueue(bytes);
  }

  /** After receiving `bytes`: null when reading may go on, otherwise a promise that resolves when it may. */
  charge(bytes: number): Promise<void> | null {
    if (!this.limited) return null;
    if (this.bucket.charge(bytes, this.now()) === 0 && this.queue.length === 0) return null;
    return this.enqueue(0);
  }

  private enqueue(bytes: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.queue.push({ bytes, resolve });
      if (this.timer === null) this.pump();
    });
  }

  /** Lets waiters go in order while the bucket allows; otherwise waits, on one timer, for the first one's turn. */
  private pump(): void {
    this.timer = null;
    for (let waiter = this.queue[0]; waiter !== undefined; waiter = this.queue[0]) {
      const now = this.now();
      const wait = waiter.bytes === 0 ? this.bucket.owed(now) : this.bucket.take(waiter.bytes, now);
      if (wait > 0) {
        // Unref'd: a limit never holds a process open; the transfers waiting on it do, while they are open.
        this.timer = setTimeout(() => this.pump(), wait);
        this.timer.unref();
        return;
      }
      this.queue.shift();
      waiter.resolve();
    }
  }
}
