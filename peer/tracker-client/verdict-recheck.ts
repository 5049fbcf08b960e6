/**
 * A tracker answers an announce (or a relay offer) before its dial-back is over: the verdict, reachable or
 * not, comes with the next one. What hangs on it (a rendezvous socket, a relay being handed out) should not
 * wait a whole interval, so while the verdict is pending the next request comes within RECHECK_MS, a few times
 * at most, and never again once a verdict came (until reset: a new port gets a new dial-back).
 */

/** The tracker waits 1 s for its dial-back and dials for 3 s. */
const RECHECK_MS = 4_000;
const MAX_RECHECKS = 3;

export class VerdictRecheck {
  private early = 0;

  /** The wait before the next request: `delayMs` (the interval), or less while the verdict is pending. */
  next(delayMs: number, reachable: boolean | null | undefined): number {
    if (reachable === null && this.early < MAX_RECHECKS) {
      this.early++;
      return Math.min(delayMs, RECHECK_MS);
    }
    if (reachable !== null && reachable !== undefined) this.early = MAX_RECHECKS;
    return delayMs;
  }

  reset(): void {
    this.early = 0;
  }
}
