import type { Share } from "../state/share-registry.js";
import { DEFAULT_SUPER_SEED, SuperSeed } from "../swarm/super-seed.js";
import type { TrackerClient } from "../tracker-client/tracker-client.js";

/**
 * Files super-seeded at once: each holds 8 bytes per chunk, and one bit per chunk for each of up to 64
 * clients' views, while it lasts (for 100 GiB files, about 1.6 MiB each).
 */
const MAX_SUPER_SEEDS = 16;

/**
 * Super-seeding, for whole files while no other peer has the whole file (BEP 16's initial seeding: with
 * other seeds, what each shows would overlap): from a file's first request until each chunk has been sent
 * once. Other seeds are known from announce replies (`otherSeeds`), and from the trackers' counts, asked when
 * super-seeding starts. A finished one keeps a marker (null) so that it does not start again; at most
 * MAX_SUPER_SEEDS at once. The public server asks `of(share)` for every request of a whole file.
 */
export class SuperSeeding {
  private readonly seeds = new Map<string, { share: Share; state: SuperSeed | null }>();
  /** Other seeds of a file by the trackers' counts (complete peers but this one), once asked. */
  private readonly counted = new Map<string, number>();

  constructor(
    private readonly trackers: readonly TrackerClient[],
    /** Other complete peers of a file in the trackers' last announce replies. */
    private readonly otherSeeds: (sha1: string) => number | undefined,
    private readonly log: (line: string) => void,
    /** Whether a client can be sent data now (swarm/upload-slots.ts wouldAdmit): only such are shown chunks. */
    private readonly canTake: (client: string, now: number) => boolean = () => true,
  ) {}

  /** The super-seeding state of a whole file shared here, while it has one. */
  readonly of = (share: Share): SuperSeed | undefined => {
    let entry = this.seeds.get(share.sha1);
    if (entry?.share !== share) {
      const live = [...this.seeds.values()].filter((e) => e.state !== null).length;
      if (live >= MAX_SUPER_SEEDS) return undefined;
      const over = (summary: string): void => this.log(`super-seeding of ${share.sha1} over: every chunk sent once, ${summary}`);
      entry = { share, state: new SuperSeed(share.manifest.chunks.length, DEFAULT_SUPER_SEED, over, this.canTake) };
      this.seeds.set(share.sha1, entry);
      this.count(share.sha1);
    }
    const others = Math.max(this.otherSeeds(share.sha1) ?? 0, this.counted.get(share.sha1) ?? 0);
    if (entry.state !== null && (entry.state.done || others > 0)) {
      if (!entry.state.done) this.log(`super-seeding of ${share.sha1} stopped: another peer has the whole file (${entry.state.summary()})`);
      entry.state.stop();
      entry.state = null;
    }
    return entry.state ?? undefined;
  };

  /** The file is no longer shared here. */
  forget(sha1: string): void {
    this.seeds.delete(sha1);
  }

  /** At a stop: what each file still super-seeded had done, for the log. */
  logUnfinished(): void {
    for (const [sha1, { state }] of this.seeds) if (state !== null) this.log(`super-seeding of ${sha1} still on at the stop: ${state.summary()}`);
  }

  private count(sha1: string): void {
    for (const tracker of this.trackers) {
      tracker.file(sha1).then(
        (stats) => this.counted.set(sha1, Math.max(this.counted.get(sha1) ?? 0, stats.complete - 1)),
        () => undefined,
      );
    }
  }
}
