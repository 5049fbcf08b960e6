import type { AnnounceEvent } from "../../common/wire.js";
import type { Share } from "../state/share-registry.js";
import type { TrackerClient } from "../tracker-client/tracker-client.js";
import type { Identity } from "./identity.js";

/**
 * Keeps the tracker told about every share: `started` when it begins, a re-announce at the interval the
 * tracker gives, `stopped` when it ends. A failed announce is retried sooner, with backoff and jitter; a
 * share whose file changed is withdrawn (checked before each announce).
 */
export class Announcer {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly tracker: TrackerClient,
    private readonly identity: Identity,
    private readonly port: number,
    private readonly claimedIp: string | undefined,
    private readonly isIntact: (share: Share) => Promise<boolean>,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts announcing; resolves with whether the first announce reached the tracker. */
  start(share: Share): Promise<boolean> {
    this.cancel(share.sha1);
    return this.announce(share, "started");
  }

  /** Withdraws a share from the tracker; resolves when the tracker has been told (or could not be). */
  async stop(share: Share): Promise<void> {
    this.cancel(share.sha1);
    await this.send(share, "stopped").catch(() => undefined);
  }

  async stopAll(shares: Share[]): Promise<void> {
    await Promise.all(shares.map((share) => this.stop(share)));
  }

  isAnnouncing(sha1: string): boolean {
    return this.timers.has(sha1);
  }

  private cancel(sha1: string): void {
    clearTimeout(this.timers.get(sha1));
    this.timers.delete(sha1);
    this.failures.delete(sha1);
  }

  private async announce(share: Share, event?: AnnounceEvent): Promise<boolean> {
    if (!(await this.isIntact(share))) {
      this.log(`${share.path} changed since it was shared; no longer announced (share it again)`);
      await this.stop(share);
      return false;
    }
    let delayMs: number;
    let reached = false;
    try {
      const reply = await this.send(share, event);
      this.failures.delete(share.sha1);
      delayMs = reply.interval * 1000;
      reached = true;
    } catch (error) {
      const failures = (this.failures.get(share.sha1) ?? 0) + 1;
      this.failures.set(share.sha1, failures);
      delayMs = Math.min(1000 * 2 ** failures, 60_000);
      this.log(`announce of ${share.sha1} failed (${error instanceof Error ? error.message : String(error)}); retrying`);
    }
    const jittered = delayMs * (0.9 + Math.random() * 0.1);
    this.timers.set(
      share.sha1,
      setTimeout(() => void this.announce(share, this.failures.has(share.sha1) ? "started" : undefined), jittered),
    );
    return reached;
  }

  private send(share: Share, event?: AnnounceEvent) {
    return this.tracker.announce(share.sha1, {
      peerId: this.identity.peerId,
      key: this.identity.key,
      port: this.port,
      left: 0,
      ...(event === undefined ? {} : { event }),
      ...(this.claimedIp === undefined ? {} : { ip: this.claimedIp }),
      file: { name: share.manifest.name, size: share.size, chunkSize: share.manifest.chunkSize, manifestId: share.manifestId },
    });
  }
}
