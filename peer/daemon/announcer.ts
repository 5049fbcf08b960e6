import type { AnnounceEvent, AnnouncedAs } from "../../common/wire.js";
import { VerdictRecheck } from "../tracker-client/verdict-recheck.js";
import type { Share } from "../state/share-registry.js";
import type { TrackerClient } from "../tracker-client/tracker-client.js";
import type { Identity } from "./identity.js";

/**
 * Keeps one tracker told about every share (announcers.ts runs one per tracker): `started` when it begins, a re-announce at the interval the
 * tracker gives, `stopped` when it ends. A failed announce is retried sooner, with backoff and jitter; a
 * share whose file changed is withdrawn (checked before each announce).
 *
 * A stop wins over whatever announce is on its way: an announce that lands after its share was stopped arms
 * no timer and is followed by another `stopped` (the tracker may have taken it after the first), and once
 * closed the announcer starts nothing. Otherwise a `started` sent during a daemon's stop lists a dead peer,
 * and its re-announce timer keeps the stopped daemon's process alive for good.
 */
/**
 * A download in progress, announced so that its downloaders find it (it serves the chunks it has): its
 * `left` is read at each announce, and it carries no file record (the tracker takes that from complete peers).
 */
export interface InProgress {
  sha1: string;
  /** Its destination, for the log. */
  path: string;
  left(): number;
}

/** What is announced: a share, whose file is checked before each announce, or a download in progress. */
export type Announced = Share | InProgress;

function inProgress(item: Announced): item is InProgress {
  return "left" in item;
}

/** How announcing to one tracker went, for `p2p status`: the last announce, and the last that worked. */
export interface TrackerHealth {
  url: string;
  /** The address family this announcer's requests use, when the daemon announces over both (announce-families.ts). */
  family?: 4 | 6;
  /** Whether the last announce (of any share) reached the tracker; null before the first. */
  ok: boolean | null;
  lastAnnounceAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  /**
   * How the tracker recorded this daemon in its last announce reply: its address and port as others are
   * given them, and whether the tracker's dial-back reached them (null: not checked yet). Absent before one.
   */
  seenAs?: AnnouncedAs;
}

/** The `you` of a reply, if it is one: a tracker's reply is checked like any input. */
function announcedAs(value: unknown): AnnouncedAs | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { ip, port, reachable } = value as Record<string, unknown>;
  if (typeof ip !== "string" || ip.length > 64 || typeof port !== "number" || !(reachable === null || typeof reachable === "boolean")) return undefined;
  return { ip, port, reachable };
}

export class Announcer {
  private readonly health: TrackerHealth;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  /** The shares being announced, each with the token of the start that owns its announces. */
  private readonly active = new Map<string, object>();
  /** What each active token announces, so that a new port can be announced at once (setPort). */
  private readonly items = new Map<string, Announced>();
  /** How many other complete peers (seeds) the last reply for each file listed. */
  private readonly seeds = new Map<string, number>();
  /** Announces on their way (with the `stopped` that follows one that landed too late): a stop waits for them. */
  private readonly sending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly tracker: TrackerClient,
    /** For `stopped`, with a short time limit: a stop must not wait long on a tracker that does not answer. */
    private readonly stopTracker: TrackerClient,
    private readonly identity: Identity,
    private port: number,
    private readonly claimedIp: string | undefined,
    private readonly isIntact: (share: Share) => Promise<boolean>,
    private readonly log: (line: string) => void,
  ) {
    this.health = { url: tracker.baseUrl, ...(tracker.family === undefined ? {} : { family: tracker.family }), ok: null, lastAnnounceAt: null, lastSuccessAt: null, lastError: null };
  }

  status(): TrackerHealth {
    return { ...this.health, ...(this.health.seenAs === undefined ? {} : { seenAs: { ...this.health.seenAs } }) };
  }

  /**
   * Starts announcing; resolves with whether the first announce reached the tracker (false once closed). A
   * download that finished is announced afresh as its share, with `completed`.
   */
  start(share: Announced, event: "started" | "completed" = "started"): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.cancel(share.sha1);
    const token = {};
    this.active.set(share.sha1, token);
    this.items.set(share.sha1, share);
    return this.track(this.announce(share, token, event));
  }

  /**
   * Resolves once every announce on its way has landed and, if it landed after its share was stopped, the
   * `stopped` that follows it has been sent: a daemon that exits sooner could leave itself listed.
   */
  async idle(): Promise<void> {
    while (this.sending.size > 0) await Promise.allSettled([...this.sending]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.sending.add(work);
    void work.finally(() => this.sending.delete(work)).catch(() => undefined);
    return work;
  }

  /** Withdraws a share from the tracker; resolves when the tracker has been told (or could not be). */
  async stop(share: Announced): Promise<void> {
    this.cancel(share.sha1);
    this.active.delete(share.sha1);
    this.items.delete(share.sha1);
    await this.sendStopped(share);
  }

  async stopAll(shares: Announced[]): Promise<void> {
    await Promise.all(shares.map((share) => this.stop(share)));
  }

  /**
   * No announce is started or repeated from now on; announces on their way withdraw themselves when they
   * land. The caller says `stopped` for its shares (stopAll).
   */
  close(): void {
    this.closed = true;
    for (const sha1 of [...this.timers.keys(), ...this.active.keys()]) this.cancel(sha1);
    this.active.clear();
    this.items.clear();
  }

  /**
   * The port others reach this daemon on changed (a router mapped it, or the mapping lapsed): every active
   * item is announced again at once with it, rather than at its next interval.
   */
  setPort(port: number, mapped = false): void {
    if (port === this.port && mapped === this.mapped) return;
    this.port = port;
    this.mapped = mapped;
    // A new port gets its own dial-back: learn its verdict soon too.
    this.verdict.reset();
    if (this.closed) return;
    for (const item of [...this.items.values()]) void this.start(item);
  }

  /** Early re-announces to learn the dial-back's verdict: per tracker, not per share. */
  private readonly verdict = new VerdictRecheck();

  /** Whether `port` is a mapping made on the home router (announced as `mapped`, reported as the path). */
  private mapped = false;

  isAnnouncing(sha1: string): boolean {
    return this.active.has(sha1);
  }

  /** Other peers with the whole file in this tracker's last reply for it; undefined before one. */
  otherSeeds(sha1: string): number | undefined {
    return this.seeds.get(sha1);
  }

  private cancel(sha1: string): void {
    this.seeds.delete(sha1);
    clearTimeout(this.timers.get(sha1));
    this.timers.delete(sha1);
    this.failures.delete(sha1);
  }

  private async announce(share: Announced, token: object, event?: AnnounceEvent): Promise<boolean> {
    if (!inProgress(share) && !(await this.isIntact(share))) {
      if (this.active.get(share.sha1) !== token) return false;
      this.log(`${share.path} changed since it was shared; no longer announced (share it again)`);
      await this.stop(share);
      return false;
    }
    if (this.active.get(share.sha1) !== token) return false;
    let delayMs: number;
    let reached = false;
    try {
      const reply = await this.send(this.tracker, share, event);
      this.seeds.set(share.sha1, reply.peers.filter((peer) => peer.complete).length);
      this.failures.delete(share.sha1);
      delayMs = reply.interval * 1000;
      reached = true;
      const at = new Date().toISOString();
      Object.assign(this.health, { ok: true, lastAnnounceAt: at, lastSuccessAt: at });
      const seenAs = announcedAs(reply.you);
      if (seenAs !== undefined) this.health.seenAs = seenAs;
      // For an unreachable daemon the verdict decides whether it holds a rendezvous socket.
      delayMs = this.verdict.next(delayMs, seenAs?.reachable);
    } catch (error) {
      const failures = (this.failures.get(share.sha1) ?? 0) + 1;
      this.failures.set(share.sha1, failures);
      delayMs = Math.min(1000 * 2 ** failures, 60_000);
      const why = error instanceof Error ? error.message : String(error);
      Object.assign(this.health, { ok: false, lastAnnounceAt: new Date().toISOString(), lastError: why });
      this.log(`announce of ${share.sha1} to ${this.tracker.label} failed (${why}); retrying`);
    }
    const owner = this.active.get(share.sha1);
    if (owner !== token) {
      // Stopped (or started afresh) while this announce was on its way.
      if (owner === undefined && reached) void this.track(this.sendStopped(share));
      return reached;
    }
    const jittered = delayMs * (0.9 + Math.random() * 0.1);
    this.timers.set(
      share.sha1,
      setTimeout(() => void this.track(this.announce(share, token, this.failures.has(share.sha1) ? "started" : undefined)), jittered),
    );
    return reached;
  }

  private async sendStopped(share: Announced): Promise<void> {
    await this.send(this.stopTracker, share, "stopped").catch(() => undefined);
  }

  private send(tracker: TrackerClient, share: Announced, event?: AnnounceEvent) {
    return tracker.announce(share.sha1, {
      peerId: this.identity.peerId,
      key: this.identity.key,
      port: this.port,
      ...(this.mapped ? { mapped: true } : {}),
      left: inProgress(share) ? share.left() : 0,
      ...(event === undefined ? {} : { event }),
      ...(this.claimedIp === undefined ? {} : { ip: this.claimedIp }),
      ...(inProgress(share) ? {} : { file: { name: share.manifest.name, size: share.size, chunkSize: share.manifest.chunkSize, manifestId: share.manifestId } }),
    });
  }
}
