import type { Manifest } from "../manifest/manifest.js";
import { PartialFile } from "../swarm/partial-file.js";
import type { FileChunkStore } from "../storage/chunk-store.js";
import { HaveFollower, type HaveUpdate } from "./have-follower.js";
import { PeerFault } from "./peer-fault.js";
import type { PeerPool } from "./peer-pool.js";
import type { Scheduler } from "./scheduler.js";

/**
 * What ties one download to its swarm, beside the request loop (download-run.ts): which chunks the peers
 * have (complete ones by what the sources said, the others by following their `/have`), the refusals that
 * say something about that (no slot now, chunk missing), when to ask the sources again for newcomers, and
 * the download's own chunks served while it runs (a daemon's public port).
 */

/**
 * How often a running download asks its sources again for peers that joined since: soon after it starts
 * (downloaders that start together announce only once they have the manifest, after their first look), then
 * less and less often, up to every 30 s; every 3 s while its peers have nothing it needs.
 */
const LOOK_AGAIN_FIRST_MS = 2_000;
const LOOK_AGAIN_MAX_MS = 30_000;
const LOOK_AGAIN_STARVED_MS = 3_000;

export class SwarmLink {
  private readonly follower: HaveFollower;
  private readonly partial: PartialFile;
  private unserve: () => void = () => undefined;
  private readonly startedAt = Date.now();
  /** When a peer last refused for want of an upload slot (0: never). */
  lastRefusal = 0;

  constructor(
    manifest: Manifest,
    store: FileChunkStore,
    private readonly pool: PeerPool,
    private readonly scheduler: Scheduler,
    resumed: readonly number[],
    serve: ((file: PartialFile) => () => void) | undefined,
    private readonly signal: AbortSignal | undefined,
    /** Wakes the request loop: a peer's news may make a chunk askable. */
    private readonly wake: () => void,
  ) {
    this.follower = new HaveFollower(
      manifest.sha1,
      manifest.chunks.length,
      (key) => pool.get(key),
      (key, update) => this.learned(key, update),
      (key) => this.silent(key),
    );
    this.partial = new PartialFile(manifest, (index, target, length) => store.readInto(index, target, length), resumed);
    if (serve !== undefined) this.unserve = serve(this.partial);
  }

  /**
   * A peer joins the scheduler and is asked what it has, and is asked for chunks once it has answered: a
   * sharer that super-seeds shows each downloader only some chunks, and one asked before its answer would
   * be asked for chunks it is sending someone else. (One RTT per peer, once.) Returns whether it is usable.
   */
  addPeer(key: string): boolean {
    const usable = this.scheduler.addPeer(key, false);
    if (usable) this.follower.follow(key);
    return usable;
  }

  /** A peer that never answered its `/have` usably is taken at the sources' word: complete, or nothing. */
  private silent(key: string): void {
    if (this.pool.isComplete(key)) {
      this.scheduler.availability.setComplete(key);
      this.wake();
    }
  }

  /** A chunk is verified and on disk: served from now on. */
  verified(index: number): void {
    this.partial.add(index);
  }

  /**
   * A refusal that says something about the swarm: no upload slot now (503 with Retry-After: ask again
   * then) or no such chunk there (404: not asked for it again until its `/have` says so). False for any
   * other failure, which the caller counts.
   */
  refused(peer: string, index: number, error: unknown): boolean {
    const refusal = error instanceof PeerFault ? error.refusal : undefined;
    if (refusal?.status === 503 && refusal.retryAfterSec !== null) {
      // Our peers say 1-10 s; a peer that says 0 (a loop) or hours (a hold on the download) is taken at 1 or 10.
      const seconds = Math.min(10, Math.max(1, refusal.retryAfterSec));
      const now = Date.now();
      this.lastRefusal = now;
      this.scheduler.refused(peer, index, now + seconds * 1000, now);
      return true;
    }
    if (refusal?.status === 404) {
      this.scheduler.missing(peer, index);
      this.follower.follow(peer, true);
      return true;
    }
    return false;
  }

  /** Asks the sources again if it is time: from 2 s to 30 s apart as the download runs, every 3 s when `starved`. */
  lookAgain(starved: boolean): void {
    const gap = starved ? LOOK_AGAIN_STARVED_MS : Math.min(LOOK_AGAIN_MAX_MS, Math.max(LOOK_AGAIN_FIRST_MS, (Date.now() - this.startedAt) / 2));
    this.pool.lookAgain(gap, this.signal);
  }

  /** Ends serving the download's chunks: at its end, after the finished share is recorded (or when it stops). */
  stopServing(): void {
    this.partial.close();
    this.unserve();
    this.unserve = () => undefined;
  }

  /** Stops following peers (the run's network part is over). */
  close(): void {
    this.follower.close();
  }

  private learned(key: string, update: HaveUpdate): void {
    const availability = this.scheduler.availability;
    if (update.kind === "complete") availability.setComplete(key);
    else if (update.kind === "bitfield") availability.setBitfield(key, update.bits);
    else for (const index of update.indices) availability.add(key, index);
    this.wake();
  }
}
