/** Measuring transfer rates in tests: a running count of bytes with the time of each step. */

export class ByteMeter {
  private readonly samples: Array<{ at: number; total: number }> = [];
  total = 0;

  add(bytes: number, at = performance.now()): void {
    this.total += bytes;
    this.samples.push({ at, total: this.total });
  }

  /** When the first byte came (ms, performance.now()), or null. */
  get firstAt(): number | null {
    return this.samples[0]?.at ?? null;
  }

  /** The count at time `at`: the last step at or before it. */
  countAt(at: number): number {
    let count = 0;
    for (const sample of this.samples) {
      if (sample.at > at) break;
      count = sample.total;
    }
    return count;
  }

  /** Bytes per second between two times. */
  rate(from: number, to: number): number {
    return ((this.countAt(to) - this.countAt(from)) * 1000) / (to - from);
  }
}
