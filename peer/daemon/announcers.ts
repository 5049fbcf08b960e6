import type { Announced, Announcer, TrackerHealth } from "./announcer.js";

/**
 * One announcer per tracker, driven together: each tracker has its own interval, failure back-off and
 * `stopped` (announcer.ts), so a tracker that is down slows none of the others. A share counts as announced
 * once any tracker has taken it.
 */
export class Announcers {
  constructor(private readonly each: readonly Announcer[]) {}

  /** Starts announcing to every tracker; resolves true as soon as one took it, false once all failed. */
  start(share: Announced, event: "started" | "completed" = "started"): Promise<boolean> {
    const attempts = this.each.map((announcer) => announcer.start(share, event));
    return new Promise((resolve) => {
      let left = attempts.length;
      if (left === 0) resolve(false);
      for (const attempt of attempts) {
        void attempt.then((reached) => {
          left -= 1;
          if (reached) resolve(true);
          else if (left === 0) resolve(false);
        });
      }
    });
  }

  /** Withdraws a share from every tracker at once; resolves when each has been told (or could not be). */
  async stop(share: Announced): Promise<void> {
    await Promise.all(this.each.map((announcer) => announcer.stop(share)));
  }

  async stopAll(shares: Announced[]): Promise<void> {
    await Promise.all(this.each.map((announcer) => announcer.stopAll(shares)));
  }

  /** Resolves once no announce is on its way to any tracker (announcer.ts `idle`). */
  async idle(): Promise<void> {
    await Promise.all(this.each.map((announcer) => announcer.idle()));
  }

  /** The port every tracker should record changed (port mapping): each announces again at once. */
  setPort(port: number, mapped: boolean): void {
    for (const announcer of this.each) announcer.setPort(port, mapped);
  }

  close(): void {
    for (const announcer of this.each) announcer.close();
  }

  isAnnouncing(sha1: string): boolean {
    return this.each.some((announcer) => announcer.isAnnouncing(sha1));
  }

  /** The most other seeds any tracker's last reply listed for the file; undefined if none has replied. */
  otherSeeds(sha1: string): number | undefined {
    const known = this.each.map((announcer) => announcer.otherSeeds(sha1)).filter((n): n is number => n !== undefined);
    return known.length === 0 ? undefined : Math.max(...known);
  }

  status(): TrackerHealth[] {
    return this.each.map((announcer) => announcer.status());
  }
}
