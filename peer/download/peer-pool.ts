import { Errors, P2PError } from "../errors.js";
import { sourceKind, type Candidate, type FoundPeer } from "../sources/candidate-table.js";
import type { PeerFinder, SourceFailure } from "../sources/peer-finder.js";
import { PeerExchange } from "../sources/peer-exchange.js";
import { pause, throwIfCancelled, unlessCancelled } from "./cancel.js";
import type { ChunkSocketOptions } from "./chunk-socket.js";
import { PeerConnection } from "./peer-http.js";

/**
 * The peers of one download: one connection pool per peer, filled from the peer sources (peer/sources/).
 * When the download runs out of usable peers it asks them again, backing off with jitter, before it gives up.
 * Where a peer was found stays here, for the download's report: the scheduler sees only keys. The peers it
 * holds are asked for theirs (peer exchange, sources/peer-exchange.ts), which join as they come.
 */
export class PeerPool {
  readonly connections = new Map<string, PeerConnection>();
  /** Where each peer's sources first named it (`tracker:<url>`...). */
  private readonly origins = new Map<string, string[]>();
  /** Peers a source said have the whole file (the others are asked what they have). */
  private readonly complete = new Set<string>();
  /** Who takes peers as they arrive, also late answers of an earlier round; until set, the pool keeps them. */
  private taker: ((keys: string[]) => number) | null = null;
  private closed = false;
  private looking = false;
  private lastLook = Date.now();
  private readonly exchange: PeerExchange;
  /** Peers the taker accepted from offers (the exchange), so that a refill waiting for peers sees them. */
  private offeredTaken = 0;

  constructor(
    private readonly sha1: string,
    private readonly finder: PeerFinder,
    private readonly localAddress: string | undefined,
    /** The download limit and the public port chunk requests state (a daemon's downloads). */
    private readonly chunkOptions: ChunkSocketOptions = {},
  ) {
    this.exchange = new PeerExchange(sha1, () => this.connections.values(), (source, found) => this.offer(source, found));
  }

  /** Adds candidates; returns their keys (complete ones first, as the finder orders them). */
  add(candidates: readonly Candidate[]): string[] {
    if (this.closed) return [];
    let joined = false;
    for (const candidate of candidates) {
      const { key, host, port } = candidate;
      if (!this.connections.has(key)) {
        this.connections.set(key, new PeerConnection({ ip: host, port }, this.localAddress, this.chunkOptions));
        joined = true;
      }
      this.origins.set(key, [...candidate.sources]);
      if (candidate.complete) this.complete.add(key);
      else this.complete.delete(key);
    }
    if (joined) this.exchange.noticed();
    return candidates.map((candidate) => candidate.key);
  }

  get(key: string): PeerConnection {
    const connection = this.connections.get(key);
    if (connection === undefined) throw new Error(`unknown peer ${key}`);
    return connection;
  }

  /** Whether a source said the peer has the whole file. */
  isComplete(key: string): boolean {
    return this.complete.has(key);
  }

  /** Where the peer was found: the kind (`tracker`) and every source that named it. Never seen by the scheduler. */
  origin(key: string): { source: string; sources: string[] } {
    const sources = this.origins.get(key) ?? [];
    return { source: sources[0] === undefined ? "unknown" : sourceKind(sources[0]), sources };
  }

  /** Peers a source offers outside a round (the exchange): merged like any answer, and given to the taker. */
  offer(source: string, peers: readonly FoundPeer[]): void {
    if (this.closed) return;
    const candidates = this.finder.merge(source, peers);
    if (candidates.length > 0) this.offeredTaken += this.take(candidates);
  }

  /** Resolves once every source asked so far has answered (their peers added) or failed. */
  sourcesAnswered(): Promise<void> {
    return this.finder.quiet();
  }

  /** From now on every peer that arrives goes to `take`, which returns how many it accepted. */
  feed(take: (keys: string[]) => number): void {
    this.taker = take;
  }

  /**
   * The first look: asks every source at once, returns the keys of the first answer with peers (more join
   * through `feed` as they come). Throws what every source said when none listed anyone and none could be
   * asked; an empty list is returned when they answered with nobody.
   */
  async discover(signal?: AbortSignal): Promise<string[]> {
    const first: string[] = [];
    let open = true;
    const round = await unlessCancelled(
      // Answers after the first are kept in the pool (and go to the taker once there is one), not listed here.
      this.finder.round(this.sha1, (candidates) => this.take(candidates, (keys) => (open ? first.push(...keys) : 0)), signal),
      signal,
    );
    open = false;
    if (round.taken === 0 && round.answered === 0 && round.failures.length > 0) throw failureOfAll(round.failures);
    return first;
  }

  /**
   * Asks the sources for peers until the taker accepts at least one or `budgetMs` runs out. Failures count
   * as "no peers yet": a tracker that restarts mid-download is waited for.
   */
  async refill(budgetMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + budgetMs;
    let delay = 250;
    let failures: SourceFailure[] = [];
    const offered = this.offeredTaken;
    this.exchange.hurry();
    for (;;) {
      throwIfCancelled(signal);
      const round = await unlessCancelled(this.finder.round(this.sha1, (candidates) => this.take(candidates), signal), signal);
      if (round.taken > 0 || this.offeredTaken > offered) return;
      failures = round.answered > 0 ? [] : round.failures;
      if (Date.now() + delay > deadline) break;
      await pause(delay * (0.75 + Math.random() * 0.5), signal);
      if (this.offeredTaken > offered) return;
      this.exchange.hurry();
      delay = Math.min(delay * 2, 5000);
    }
    throw this.noPeersError(failures);
  }

  /**
   * One more round in the background, unless one is on its way or ran within `minGapMs`: in a swarm, new
   * downloaders keep arriving, and a download that waits on its peers' news may find others that can help.
   */
  lookAgain(minGapMs: number, signal?: AbortSignal): void {
    if (this.closed || this.looking || Date.now() - this.lastLook < minGapMs) return;
    this.looking = true;
    this.lastLook = Date.now();
    this.finder
      .round(this.sha1, (candidates) => this.take(candidates), signal)
      .catch(() => undefined)
      .finally(() => {
        this.looking = false;
      });
  }

  noPeersError(failures: readonly SourceFailure[]): P2PError {
    const why = failures.length === 0 ? "" : ` (${failures.map((f) => f.error.message).join("; ")})`;
    return Errors.noPeers(
      `no peer is left that can send the rest of ${this.sha1}${why}`,
      "the verified part is kept: run the same command again when a peer that has the file is online",
    );
  }

  close(): void {
    this.closed = true;
    this.exchange.close();
    this.finder.close();
    for (const connection of this.connections.values()) connection.close();
  }

  private take(candidates: readonly Candidate[], first?: (keys: string[]) => number): number {
    const keys = this.add(candidates);
    if (keys.length === 0) return 0;
    if (this.taker !== null) return this.taker(keys);
    return first === undefined ? 0 : first(keys);
  }
}

/**
 * One error for a look-up where every source failed: with one source, its own error (as before several
 * trackers); a tracker that says nobody has the file wins over others that could not be reached.
 */
function failureOfAll(failures: readonly SourceFailure[]): Error {
  const errors = failures.map((f) => f.error);
  const unknown = errors.find((e) => e instanceof P2PError && e.code === "UNKNOWN_HASH");
  if (unknown !== undefined) return unknown;
  if (errors.length === 1) return errors[0]!;
  return Errors.trackerUnreachable(
    `no tracker could be asked: ${failures.map((f) => f.error.message).join("; ")}`,
    "start one with `p2p tracker`, or pass working --tracker URLs (env P2P_TRACKER)",
  );
}
