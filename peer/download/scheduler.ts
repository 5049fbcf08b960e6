/**
 * Which chunk to ask of which peer, as plain values: no sockets, no clock of its own. The downloader
 * (downloader.ts) asks it for work whenever a peer has a free slot and reports every outcome back.
 *
 * - Chunks go in ascending order, so that the file's SHA-1 can be computed as the download proceeds.
 * - Each peer has a window of requests in flight that grows while it delivers and halves when it fails,
 *   so that faster peers carry more of the download.
 * - A request that has taken far longer than chunks usually take, and every request once nothing is left
 *   unassigned (the endgame), may be asked of a second peer: one slow peer cannot hold the download at 99%.
 * - A peer that lies (a chunk whose length or hash is not the manifest's) is banned for this download at
 *   once: each chunk comes whole from one peer, so the fault is that peer's alone. A broken answer (not
 *   HTTP, an unexpected status) is a strike, and `maxStrikes` of them ban it too. A peer that fails
 *   `maxFailures` times in a row is dropped (it may come back from the tracker later).
 */

export interface SchedulerOptions {
  /** Requests in flight per peer: the window starts at `initialWindow` and moves between 1 and `maxWindow`. */
  initialWindow: number;
  maxWindow: number;
  /** Requests in flight across all peers: bounds memory, since each holds one chunk's buffer. */
  maxInflight: number;
  maxStrikes: number;
  maxFailures: number;
  /** A request older than this many times the median chunk time may be duplicated to another peer. */
  stragglerFactor: number;
  /** ...but never sooner than this. */
  minStragglerMs: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  initialWindow: 2,
  maxWindow: 6,
  maxInflight: 14,
  maxStrikes: 3,
  maxFailures: 4,
  stragglerFactor: 4,
  minStragglerMs: 2000,
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

  constructor(
    readonly chunkCount: number,
    alreadyVerified: Iterable<number> = [],
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER_OPTIONS,
  ) {
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

  /** Adds a peer, or brings back a dropped one; a banned peer stays banned. Returns whether it is usable. */
  addPeer(key: string): boolean {
    const existing = this.peers.get(key);
    if (existing !== undefined) {
      if (existing.banned) return false;
      if (existing.dropped) {
        existing.dropped = false;
        existing.failuresInRow = 0;
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
    });
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
      const peer = this.leastBusy(tried);
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

  private leastBusy(skip: Set<PeerState>): PeerState | null {
    let best: PeerState | null = null;
    for (const peer of this.peers.values()) {
      if (peer.banned || peer.dropped || peer.inflight.size >= peer.window || skip.has(peer)) continue;
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
    if (how === "lie" || peer.strikes >= this.options.maxStrikes) peer.banned = true;
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

  /** Requests a peer holds, e.g. to abort them when it is banned. */
  inflightOf(key: string): number[] {
    return [...(this.peers.get(key)?.inflight ?? [])];
  }

  /** An overdue chunk first (so that one slow peer does not hold the file), then the lowest missing one. */
  private pick(peer: PeerState, now: number): number | null {
    const overdue = this.pickDuplicate(peer, now, false);
    if (overdue !== null) return overdue;
    while (this.cursor < this.chunkCount && this.verified[this.cursor] === 1) this.cursor++;
    for (let index = this.cursor; index < this.chunkCount; index++) {
      if (this.verified[index] === 0 && !this.inflight.has(index)) return index;
    }
    const remaining = this.chunkCount - this.verifiedCount;
    return this.pickDuplicate(peer, now, remaining <= Math.max(4, this.usablePeers().length * 2));
  }

  /**
   * A chunk another peer holds that this one could also fetch: in the endgame any of them, otherwise only
   * one held far longer than chunks take. The oldest request first.
   */
  private pickDuplicate(peer: PeerState, now: number, endgame: boolean): number | null {
    if (this.inflight.size === 0) return null;
    const stragglerMs = Math.max(this.options.minStragglerMs, this.options.stragglerFactor * this.medianMs());
    let best: number | null = null;
    let bestStarted = Number.POSITIVE_INFINITY;
    for (const [index, requests] of this.inflight) {
      if (requests.length >= 2 || requests.some((r) => r.peer === peer.key)) continue;
      const started = requests[0]?.startedAt ?? now;
      if (!endgame && now - started < stragglerMs) continue;
      if (started < bestStarted) {
        best = index;
        bestStarted = started;
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
  }

  private medianMs(): number {
    if (this.recentMs.length === 0) return 0;
    const sorted = [...this.recentMs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  }
}
