import type { RelayOfferReply } from "../../common/rendezvous-wire.js";
import { VerdictRecheck } from "../tracker-client/verdict-recheck.js";
import type { Identity } from "../daemon/identity.js";
import type { TrackerClient } from "../tracker-client/tracker-client.js";

/**
 * A daemon run with `--relay` offers itself to each tracker (`POST /v1/relays`), again at the interval the
 * tracker gives, and withdraws with `stopped` when it stops. The tracker dials the relay back and hands it
 * out only when that worked: the reply's `reachable` is kept per tracker for `p2p status`. A failed offer is
 * retried sooner, with backoff and jitter, as announces are (daemon/announcer.ts).
 */

/** How offering to one tracker went, for `p2p status`. */
export interface RelayOfferHealth {
  url: string;
  family?: 4 | 6;
  /** Whether the last offer reached the tracker; null before the first. */
  ok: boolean | null;
  /** The tracker's dial-back verdict in its last reply: only a reachable relay is handed out. */
  reachable: boolean | null;
  lastOfferAt: string | null;
  lastError: string | null;
}

export interface RelayTracker {
  tracker: TrackerClient;
  /** For `stopped`, with a short time limit: a stop must not wait long on a tracker that does not answer. */
  stopTracker: TrackerClient;
}

export interface RelayOfferOptions {
  /** The first retry after a failure; doubled each time, at most 60 s. */
  retryBaseMs?: number;
  log?: (line: string) => void;
}

/** A tracker's interval is trusted within these bounds: no hot loop, no relay forgotten for hours. */
const MIN_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 3600_000;
const MAX_RETRY_MS = 60_000;

interface Offered {
  target: RelayTracker;
  health: RelayOfferHealth;
  failures: number;
  /** Early offers to learn the dial-back's verdict. */
  verdict: VerdictRecheck;
  timer: NodeJS.Timeout | null;
}

export class RelayOffers {
  private readonly offered: Offered[];
  private readonly sending = new Set<Promise<void>>();
  private readonly retryBaseMs: number;
  private readonly log: (line: string) => void;
  private started = false;
  private closed = false;

  constructor(
    trackers: RelayTracker[],
    private readonly identity: Identity,
    private port: number,
    options: RelayOfferOptions = {},
  ) {
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.log = options.log ?? (() => undefined);
    this.offered = trackers.map((target) => ({
      target,
      health: { url: target.tracker.baseUrl, ...(target.tracker.family === undefined ? {} : { family: target.tracker.family }), ok: null, reachable: null, lastOfferAt: null, lastError: null },
      failures: 0,
      verdict: new VerdictRecheck(),
      timer: null,
    }));
  }

  /** Offers to every tracker now, then at each one's interval. Resolves once the first offers have landed. */
  async start(): Promise<void> {
    if (this.closed || this.started) return;
    this.started = true;
    await Promise.all(this.offered.map((offered) => this.track(this.offer(offered))));
  }

  status(): RelayOfferHealth[] {
    return this.offered.map(({ health }) => ({ ...health }));
  }

  /** True when some tracker reached this relay; false when every one that answered could not; null before any did. */
  get reachable(): boolean | null {
    const verdicts = this.offered.map(({ health }) => health.reachable).filter((verdict) => verdict !== null);
    if (verdicts.length === 0) return null;
    return verdicts.includes(true);
  }

  /** The public port changed (a router mapped it, or the mapping lapsed): offered again at once. */
  setPort(port: number): void {
    if (port === this.port) return;
    this.port = port;
    // A new port gets its own dial-back: its verdict is fetched soon too.
    for (const offered of this.offered) offered.verdict.reset();
    if (this.closed || !this.started) return;
    for (const offered of this.offered) {
      if (offered.timer === null) continue;
      clearTimeout(offered.timer);
      offered.timer = null;
      void this.track(this.offer(offered));
    }
  }

  /**
   * No offer is made from now on; resolves once the offers on their way have landed and every tracker has
   * been told `stopped` (or could not be). May be called again.
   */
  async stop(): Promise<void> {
    const first = !this.closed;
    this.closed = true;
    for (const offered of this.offered) {
      clearTimeout(offered.timer ?? undefined);
      offered.timer = null;
    }
    while (this.sending.size > 0) await Promise.allSettled([...this.sending]);
    if (!first || !this.started) return;
    await Promise.all(
      this.offered.map(({ target }) => target.stopTracker.offerRelay({ peerId: this.identity.peerId, key: this.identity.key, port: this.port, event: "stopped" }).catch(() => undefined)),
    );
  }

  private track(work: Promise<void>): Promise<void> {
    this.sending.add(work);
    void work.finally(() => this.sending.delete(work));
    return work;
  }

  private async offer(offered: Offered): Promise<void> {
    if (this.closed) return;
    const { health } = offered;
    let delayMs: number;
    const port = this.port;
    try {
      const reply = checked(await offered.target.tracker.offerRelay({ peerId: this.identity.peerId, key: this.identity.key, port }));
      if (health.reachable !== reply.reachable && reply.reachable !== null) {
        this.log(`relay ${reply.reachable ? "reachable" : "not reachable"} from ${offered.target.tracker.label}`);
      }
      offered.failures = 0;
      Object.assign(health, { ok: true, reachable: reply.reachable, lastOfferAt: new Date().toISOString(), lastError: null });
      delayMs = Math.min(Math.max(reply.interval * 1000, MIN_INTERVAL_MS), MAX_INTERVAL_MS);
      // The relay is handed out only once the tracker knows it reachable.
      delayMs = offered.verdict.next(delayMs, reply.reachable);
    } catch (error) {
      offered.failures++;
      const why = error instanceof Error ? error.message : String(error);
      Object.assign(health, { ok: false, lastOfferAt: new Date().toISOString(), lastError: why });
      this.log(`relay offer to ${offered.target.tracker.label} failed (${why}); retrying`);
      delayMs = Math.min(this.retryBaseMs * 2 ** offered.failures, MAX_RETRY_MS);
    }
    // Stopped while this offer was on its way: stop() sends `stopped` after it, and nothing is armed.
    if (this.closed) return;
    // The port changed while it was on its way (setPort found no timer to cut short): offered again now.
    if (port !== this.port) delayMs = 0;
    const timer = setTimeout(() => {
      offered.timer = null;
      void this.track(this.offer(offered));
    }, delayMs * (0.9 + Math.random() * 0.1));
    // Unref'd: the daemon's servers keep it alive, not an offer that comes round every few minutes.
    timer.unref();
    offered.timer = timer;
  }
}

/** A tracker's reply is checked like any input. */
function checked(value: unknown): RelayOfferReply {
  if (typeof value === "object" && value !== null) {
    const { interval, reachable } = value as Record<string, unknown>;
    if (typeof interval === "number" && Number.isFinite(interval) && interval > 0 && (reachable === null || typeof reachable === "boolean")) return { interval, reachable };
  }
  throw new Error("the tracker's reply is not a relay offer reply");
}
