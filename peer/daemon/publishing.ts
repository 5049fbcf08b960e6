import type { Discovery, DiscoveryStatus } from "../discovery/discovery.js";
import type { Announced, TrackerHealth } from "./announcer.js";
import type { Announcers } from "./announcers.js";

/**
 * Everything that makes this daemon's files findable, driven together: every tracker (announcers.ts) and
 * every discovery (the DHT, the LAN). A file is announced to all of them; a tracker that is down, or every
 * tracker down, leaves the others working.
 */
export class Publishing {
  private readonly published = new Set<string>();
  /** Once closed (the daemon stopping), nothing new is published: a download finishing meanwhile stays unannounced. */
  private closed = false;

  constructor(
    readonly trackers: Announcers,
    private readonly discoveries: readonly Discovery[],
  ) {}

  /** Starts announcing everywhere; resolves true as soon as one tracker took it, false once all failed. */
  start(item: Announced, event: "started" | "completed" = "started"): Promise<boolean> {
    this.publish(item.sha1);
    return this.trackers.start(item, event);
  }

  async stop(item: Announced): Promise<void> {
    this.unpublish(item.sha1);
    await this.trackers.stop(item);
  }

  async stopAll(items: Announced[]): Promise<void> {
    for (const item of items) this.unpublish(item.sha1);
    await this.trackers.stopAll(items);
  }

  /** The port others reach this daemon on (its router's mapping): every tracker and the DHT are told it. */
  setPort(port: number, mapped: boolean): void {
    this.trackers.setPort(port, mapped);
    for (const discovery of this.discoveries) discovery.setPort?.(port);
  }

  /**
   * What the trackers' dial-backs say of this daemon: reachable if any reached it, unreachable if every one
   * that tried could not, unknown otherwise; passed on to the discoveries (the DHT goes read-only).
   */
  noteReachability(): void {
    const verdicts = this.trackers.status().map((health) => health.seenAs?.reachable ?? null).filter((r): r is boolean => r !== null);
    const reachable = verdicts.includes(true) ? true : verdicts.length > 0 ? false : null;
    for (const discovery of this.discoveries) discovery.setReachable?.(reachable);
  }

  idle(): Promise<void> {
    return this.trackers.idle();
  }

  close(): void {
    this.closed = true;
    this.trackers.close();
  }

  /** Announced to a tracker, or published by a discovery. */
  isAnnouncing(sha1: string): boolean {
    return this.trackers.isAnnouncing(sha1) || (this.discoveries.length > 0 && this.published.has(sha1));
  }

  otherSeeds(sha1: string): number | undefined {
    return this.trackers.otherSeeds(sha1);
  }

  trackerStatus(): TrackerHealth[] {
    return this.trackers.status();
  }

  discoveryStatus(): DiscoveryStatus[] {
    return this.discoveries.map((discovery) => discovery.status());
  }

  private publish(sha1: string): void {
    if (this.closed) return;
    this.published.add(sha1);
    for (const discovery of this.discoveries) discovery.publish(sha1);
  }

  private unpublish(sha1: string): void {
    if (!this.published.delete(sha1)) return;
    for (const discovery of this.discoveries) discovery.unpublish(sha1);
  }
}
