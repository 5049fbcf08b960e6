import { Availability } from "../swarm/availability.js";

/**
 * Which chunk to ask of which peer, as plain values: no sockets, no clock of its own. The downloader
 * (downloader.ts) asks it for work whenever a peer has a free slot and reports every outcome back.
 *
 * - A peer is asked only for chunks it has (swarm/availability.ts). Among the chunks a peer can give, the
 *   rarest across the peers in use comes first, ties at random, and the first few chunks are random too,
 *   so that downloaders starting together spread out. Where every peer in use is complete, rarity says
 *   nothing and chunks go in ascending order, so that the file's SHA-1 is fed as they arrive
 *   (file-hasher.ts); out of order, the SHA-1 reads early chunks back from the partial file.
 * - A peer that refuses for now (503 with Retry-After: no upload slot free) is not asked again until then,
 *   and that is not held against it.
 * - Each peer has a window of requests in flight that grows while it delivers and halves when it fails,
 *   so that faster peers carry more of the download; in a swarm (some peer incomplete) it stays small, as
 *   uplinks there serve many downloaders at once.
 * - A request that has taken far longer than chunks usually take may be asked of a second peer, and once
 *   nothing is left unassigned (the endgame) a peer with nothing in flight takes a copy of the request begun
 *   last (in a swarm only for the last 4 chunks, where a copy takes a share of an uplink others need): one
 *   slow peer cannot hold the download at 99%, and copies use only capacity that would otherwise idle.
 * - A peer that lies (a chunk whose length or hash is not the manifest's) is banned for this download at
 *   once: each chunk comes whole from one peer, so the fault is that peer's alone. A broken answer (not
 *   HTTP, an unexpected status) is a strike, and `maxStrikes` of them ban it too. A peer that fails
 *   `maxFailures` times in a row is dropped (it may come back from the tracker later).
 */

export interface SchedulerOptions {
  /** Requests in flight per peer: the window starts at `initialWindow` and moves between 1 and `maxWindow`. */
  initialWindow: number;
  maxWindow: number;
  /**
   * ...and at most this many while some peer in use is incomplete (a swarm): there, uplinks are shared by
   * many downloaders, and deeper queues at a peer only delay the rare chunk everyone waits for behind
   * others (measured: the flash crowd's last finish went from 1.45x to 1.33x T_min with 2 instead of 6, and
   * to 1.29x with 1: a first sharer serving 8 downloaders one chunk each gets a chunk to each of them in half
   * the time it takes with two each, so they have something to pass on sooner). On a path with a long round
   * trip, one at a time leaves that peer's share of its uplink idle for a round trip per chunk.
   */
  maxWindowInSwarm: number;
  /** Requests in flight across all peers: bounds memory, since each holds one chunk's buffer. */
  maxInflight: number;
  maxStrikes: number;
  maxFailures: number;
  /** A request older than this many times the median chunk time may be duplicated to another peer. */
  stragglerFactor: number;
  /** ...but never sooner than this. */
  minStragglerMs: number;
  /** This many chunks are picked at random before rarest-first or ascending order takes over. */
  randomFirst: number;
  /** A peer that has refused every request (503, no slot) for this long is dropped. */
  maxRefusedMs: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  initialWindow: 2,
  maxWindow: 6,
  maxWindowInSwarm: 1,
  maxInflight: 14,
  maxStrikes: 3,
  maxFailures: 4,
  stragglerFactor: 4,
  minStragglerMs: 2000,
  randomFirst: 4,
  maxRefusedMs: 60_000,
};

export interface PeerStats {
  key: string;
  bytes: number;
  chunks: number;
  strikes: number;
  banned: boolean;
  dropped: boolean;
}

interface PeerState extends PeerStats {
  window: number;
  /** When it was last given a request (a count of assignments). */
  lastAssigned: number;
  inflight: Set<number>;
  failuresInRow: number;
  /** Not asked before this time (it refused: no upload slot for us). */
  chokedUntil: number;
  /** Since when it has refused every request (null once it delivers). */
  refusedSince: number | null;
}

interface Request {
  peer: string;
  startedAt: number;
}

export type Assignment = { peer: string; index: number };

export class Scheduler {
  private readonly verified: Uint8Array;
  private verifiedCount = 0;
  private readonly inflight = new Map<number, Request[]>();
  private readonly peers = new Map<string, PeerState>();
  /** The lowest chunk that may still be missing: the scan for work starts here. */
  private cursor = 0;
  private inflightTotal = 0;
  private assignments = 0;
  private readonly recentMs: number[] = [];
  /** The median of `recentMs`, kept until the next time is recorded (it is read at every pick). */
  private median: number | null = null;

  /** Who has what: updated by the caller as peers' `/have` answers arrive. */
  readonly availability: Availability;

  constructor(
    readonly chunkCount: number,
    alreadyVerified: Iterable<number> = [],
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER_OPTIONS,
    /** Ties in rarity, and the first chunks, are drawn with this (a seeded one in tests). */
    private readonly random: () => number = Math.random,
  ) {
    this.availability = new Availability(chunkCount);
    this.verified = new Uint8Array(chunkCount);
    for (const index of alreadyVerified) {
      if (index >= 0 && index < chunkCount && this.verified[index] === 0) {
        this.verified[index] = 1;
        this.verifiedCount++;
      }
    }
  }

  get done(): boolean {
    return this.verifiedCount === this.chunkCount;
  }

  get verifiedChunks(): number {
    return this.verifiedCount;
  }

  isVerified(index: number): boolean {
    return this.verified[index] === 1;
  }

  /**
   * Adds a peer, or brings back a dropped one; a banned peer stays banned. Returns whether it is usable. A
   * peer said to be `complete` has every chunk; otherwise it has none until its availability is set.
   */
  addPeer(key: string, complete = true): boolean {
    const existing = this.peers.get(key);
    if (existing !== undefined) {
      if (existing.banned) return false;
      if (existing.dropped) {
        existing.dropped = false;
        existing.failuresInRow = 0;
        existing.refusedSince = null;
        existing.window = this.options.initialWindow;
      }
      return true;
    }
    this.peers.set(key, {
      key,
      bytes: 0,
      chunks: 0,
      strikes: 0,
      banned: false,
      dropped: false,
      window: this.options.initialWindow,
      lastAssigned: 0,
      inflight: new Set(),
      failuresInRow: 0,
      chokedUntil: 0,
      refusedSince: null,
    });
    if (complete) this.availability.setComplete(key);
    return true;
  }

  /** Peers that can still be asked for chunks. */
  usablePeers(): string[] {
    return [...this.peers.values()].filter((p) => !p.banned && !p.dropped).map((p) => p.key);
  }

  stats(): PeerStats[] {
    return [...this.peers.values()].map(({ key, bytes, chunks, strikes, banned, dropped }) => ({ key, bytes, chunks, strikes, banned, dropped }));
  }

  /**
   * Every request that should start now, given free windows, the global cap and `budget` free buffers. Each
   * request goes to the peer with the fewest in flight (the longest idle among equals): a faster peer
   * empties its window sooner and so is asked more often, and when buffers, not windows, are what limits,
   * the peers still share the work instead of the first one taking it all.
   */
  assign(now: number, budget = Number.POSITIVE_INFINITY): Assignment[] {
    const out: Assignment[] = [];
    const tried = new Set<PeerState>();
    while (this.inflightTotal < this.options.maxInflight && out.length < budget) {
      const peer = this.leastBusy(tried, now);
      if (peer === null) break;
      const index = this.pick(peer, now);
      if (index === null) {
        tried.add(peer);
        continue;
      }
      this.start(peer, index, now);
      peer.lastAssigned = ++this.assignments;
      out.push({ peer: peer.key, index });
    }
    return out;
  }

  private windowOf(peer: PeerState): number {
    return this.availability.mixed ? Math.min(peer.window, this.options.maxWindowInSwarm) : peer.window;
  }

  private leastBusy(skip: Set<PeerState>, now: number): PeerState | null {
    let best: PeerState | null = null;
    for (const peer of this.peers.values()) {
      if (peer.banned || peer.dropped || peer.chokedUntil > now || peer.inflight.size >= this.windowOf(peer) || skip.has(peer)) continue;
      if (best === null || peer.inflight.size < best.inflight.size || (peer.inflight.size === best.inflight.size && peer.lastAssigned < best.lastAssigned)) best = peer;
    }
    return best;
  }

  /**
   * A peer delivered a chunk that verified. Returns the other requests for the same chunk, which the
   * caller should abort, and whether this delivery is the one that counts (a duplicate may arrive second).
   */
  succeeded(key: string, index: number, bytes: number, now: number): { counted: boolean; cancel: Assignment[] } {
    const peer = this.peers.get(key);
    const request = this.finish(key, index);
    if (peer !== undefined) {
      peer.failuresInRow = 0;
      peer.refusedSince = null;
      peer.window = Math.min(this.options.maxWindow, peer.window + 1);
      if (request !== undefined) this.recordTime(now - request.startedAt);
    }
    if (this.verified[index] === 1) return { counted: false, cancel: [] };
    this.verified[index] = 1;
    this.verifiedCount++;
    if (peer !== undefined) {
      peer.bytes += bytes;
      peer.chunks++;
    }
    const others = this.inflight.get(index) ?? [];
    return { counted: true, cancel: others.map((r) => ({ peer: r.peer, index })) };
  }

  /**
   * A peer sent something false: a `lie` (bytes the manifest contradicts) bans it at once, a `broken`
   * answer is a strike. Returns whether it is now banned.
   */
  misbehaved(key: string, index: number, how: "lie" | "broken"): boolean {
    this.finish(key, index);
    const peer = this.peers.get(key);
    if (peer === undefined) return false;
    peer.strikes++;
    if (how === "lie" || peer.strikes >= this.options.maxStrikes) {
      peer.banned = true;
      this.availability.forget(key);
    }
    return peer.banned;
  }

  /**
   * A request failed without bad data: refused, reset, too slow, or aborted because another peer won.
   * A peer too slow to deliver one chunk in time is dropped at once (a refill may bring it back later):
   * otherwise a peer that trickles a byte a second would hold requests for minutes.
   */
  failed(key: string, index: number, how: "network" | "timeout" | "cancelled" = "network"): void {
    this.finish(key, index);
    const peer = this.peers.get(key);
    if (peer === undefined || how === "cancelled") return;
    peer.failuresInRow++;
    peer.window = Math.max(1, Math.floor(peer.window / 2));
    if (how === "timeout" || peer.failuresInRow >= this.options.maxFailures) peer.dropped = true;
  }

  /**
   * The peer refused for now (no upload slot free: 503 with Retry-After): it is not asked again before
   * `until`, and neither its window nor its failure count suffers.
   */
  refused(key: string, index: number, until: number, now = until): void {
    this.finish(key, index);
    const peer = this.peers.get(key);
    if (peer === undefined) return;
    peer.chokedUntil = Math.max(peer.chokedUntil, until);
    // A peer that has refused everything for a long time is dropped like a failing one (a refill may bring
    // it back): upload slots turn round every 10 s, so an honest peer gives one well within that.
    peer.refusedSince ??= now;
    if (now - peer.refusedSince > this.options.maxRefusedMs) peer.dropped = true;
  }

  /** Whether some usable peer refused for now (no slot) and is to be asked again later: not starvation. */
  anyRefusing(now: number): boolean {
    for (const peer of this.peers.values()) if (!peer.banned && !peer.dropped && peer.chokedUntil > now) return true;
    return false;
  }

  /** The peer does not have the chunk after all (`chunk_missing`): a failure, and it is not asked for it again. */
  missing(key: string, index: number): void {
    this.availability.lacks(key, index);
    this.failed(key, index, "network");
  }

  /**
   * Whether some usable peer could be asked for something now or later: false when every chunk still missing
   * is held by no usable peer (the swarm lacks it), so that waiting on these peers alone cannot finish.
   */
  canProgress(): boolean {
    const usable = this.usablePeers();
    for (let index = this.cursor; index < this.chunkCount; index++) {
      if (this.verified[index] === 1) continue;
      if (!usable.some((key) => this.availability.has(key, index))) return false;
    }
    return usable.length > 0;
  }

  /** Requests a peer holds, e.g. to abort them when it is banned. */
  inflightOf(key: string): number[] {
    return [...(this.peers.get(key)?.inflight ?? [])];
  }

  /**
   * An overdue chunk first (so that one slow peer does not hold the file), then a missing one the peer has:
   * at random for the first few, then the rarest (ties at random) while some peer in use is incomplete,
   * otherwise the lowest.
   */
  private pick(peer: PeerState, now: number): number | null {
    const overdue = this.pickDuplicate(peer, now, false);
    if (overdue !== null) return overdue;
    while (this.cursor < this.chunkCount && this.verified[this.cursor] === 1) this.cursor++;
    const fresh =
      this.verifiedCount < this.options.randomFirst || this.availability.mixed ? this.pickRarest(peer.key, this.verifiedCount < this.options.randomFirst) : this.pickLowest(peer.key);
    if (fresh !== null) return fresh;
    // The endgame: nothing is left unassigned, and this peer has nothing in flight: it takes a copy of the
    // request begun last, the furthest from done (so the copy is the likeliest to win, and its abort then
    // gives the other peer's uplink back to its own requests). Only idle capacity is spent on copies; in a
    // swarm only for the last 4 chunks, as a copy there takes a share of an uplink other downloaders need.
    const remaining = this.chunkCount - this.verifiedCount;
    const endgame = peer.inflight.size === 0 && (!this.availability.mixed || remaining <= 4);
    return endgame ? this.pickDuplicate(peer, now, true) : null;
  }

  private pickLowest(key: string): number | null {
    for (let index = this.cursor; index < this.chunkCount; index++) {
      if (this.verified[index] === 0 && !this.inflight.has(index) && this.availability.has(key, index)) return index;
    }
    return null;
  }

  /** The rarest chunk the peer has that nobody is fetching, ties drawn at random (reservoir sampling). */
  private pickRarest(key: string, anyRarity: boolean): number | null {
    let best: number | null = null;
    let bestCount = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (let index = this.cursor; index < this.chunkCount; index++) {
      if (this.verified[index] === 1 || this.inflight.has(index) || !this.availability.has(key, index)) continue;
      const count = anyRarity ? 0 : this.availability.count(index);
      if (count < bestCount) {
        best = index;
        bestCount = count;
        ties = 1;
      } else if (count === bestCount && this.random() * ++ties < 1) {
        best = index;
      }
    }
    return best;
  }

  /**
   * A chunk another peer holds that this one could also fetch: in the endgame any of them, the request
   * begun last first; otherwise only one held far longer than chunks take, the oldest first.
   */
  private pickDuplicate(peer: PeerState, now: number, endgame: boolean): number | null {
    if (this.inflight.size === 0) return null;
    const stragglerMs = Math.max(this.options.minStragglerMs, this.options.stragglerFactor * this.medianMs());
    let best: number | null = null;
    let bestRank = Number.POSITIVE_INFINITY;
    for (const [index, requests] of this.inflight) {
      if (requests.length >= 2 || requests.some((r) => r.peer === peer.key) || !this.availability.has(peer.key, index)) continue;
      const started = requests[0]?.startedAt ?? now;
      if (!endgame && now - started < stragglerMs) continue;
      // In the endgame the youngest wins: compared negated, so that one comparison serves both orders.
      const rank = endgame ? -started : started;
      if (rank < bestRank) {
        best = index;
        bestRank = rank;
      }
    }
    return best;
  }

  private start(peer: PeerState, index: number, now: number): void {
    peer.inflight.add(index);
    const list = this.inflight.get(index) ?? [];
    list.push({ peer: peer.key, startedAt: now });
    this.inflight.set(index, list);
    this.inflightTotal++;
  }

  private finish(key: string, index: number): Request | undefined {
    const peer = this.peers.get(key);
    if (peer === undefined || !peer.inflight.delete(index)) return undefined;
    this.inflightTotal--;
    const list = this.inflight.get(index) ?? [];
    const at = list.findIndex((r) => r.peer === key);
    const [request] = at >= 0 ? list.splice(at, 1) : [];
    if (list.length === 0) this.inflight.delete(index);
    return request;
  }

  private recordTime(ms: number): void {
    this.recentMs.push(ms);
    if (this.recentMs.length > 64) this.recentMs.shift();
    this.median = null;
  }

  private medianMs(): number {
    if (this.recentMs.length === 0) return 0;
    if (this.median === null) {
      const sorted = [...this.recentMs].sort((a, b) => a - b);
      this.median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    }
    return this.median;
  }
}
