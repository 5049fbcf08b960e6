import { Errors, P2PError } from "../errors.js";
import { sourceKind, type Candidate, type FoundPeer } from "../sources/candidate-table.js";
import type { PeerFinder, SourceFailure } from "../sources/peer-finder.js";
import { PeerExchange } from "../sources/peer-exchange.js";
import { groupByPeer, preferredFamily, type Family } from "../sources/family-preference.js";
import { machineFamilies } from "../tracker-client/announce-families.js";
import { pause, throwIfCancelled, unlessCancelled } from "./cancel.js";
import type { ChunkSocketOptions } from "./chunk-socket.js";
import { PeerConnection } from "./peer-http.js";
import type { Dialer } from "../connect/dialer.js";
import { DERIVED_PEER_ID } from "../../common/rendezvous-wire.js";

/**
 * How to reach a peer that a tracker found unreachable: the tracker (base URL) holds its rendezvous socket.
 * A daemon's reverses, punches and relays (daemon/connectivity.ts); without a daemon, punches and relays.
 */
export type ReachFor = (peerId: string, tracker: string) => Dialer;

/**
 * The peers of one download: one connection pool per peer, filled from the peer sources (peer/sources/).
 * When the download runs out of usable peers it asks them again, backing off with jitter, before it gives up.
 * Where a peer was found stays here, for the download's report: the scheduler sees only keys. The peers it
 * holds are asked for theirs (peer exchange, sources/peer-exchange.ts), which join as they come.
 */
export class PeerPool {
  readonly connections = new Map<string, PeerConnection>();
  /** When the download began looking for peers: what each peer's time to first byte counts from. */
  readonly startedAt = Date.now();
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
  /** The key of each peer whose id a source gave: its other family's address joins that connection. */
  private readonly keyOfPeer = new Map<string, string>();

  constructor(
    private readonly sha1: string,
    private readonly finder: PeerFinder,
    private readonly localAddress: string | undefined,
    /** The download limit and the public port chunk requests state (a daemon's downloads). */
    private readonly chunkOptions: ChunkSocketOptions = {},
    /** The address family tried first for a peer listed under both (family-preference.ts). */
    private readonly prefer: Family = preferredFamily(machineFamilies().ipv6, localAddress),
    private readonly reach?: ReachFor,
  ) {
    this.exchange = new PeerExchange(sha1, () => this.connections.values(), (source, found) => this.offer(source, found));
  }

  /**
   * Adds candidates; returns their keys (complete ones first, as the finder orders them). A peer listed under
   * two addresses (its IPv4 and IPv6, same peerId) is one connection, at the preferred family's address, with
   * the other as its fallback; its key is the address it joined with.
   */
  add(candidates: readonly Candidate[]): string[] {
    if (this.closed) return [];
    let joined = false;
    const keys: string[] = [];
    for (const { first, fallbacks } of groupByPeer(candidates, this.prefer)) {
      const known = first.peerId === undefined ? undefined : this.keyOfPeer.get(first.peerId);
      const key = known ?? first.key;
      let connection = this.connections.get(key);
      if (connection === undefined) {
        // A peer no dial reaches (the tracker's dial-back failed) is reached another way, through that tracker.
        const { reach, peerId } = first;
        const dialer = reach?.reachable === false && peerId !== undefined && DERIVED_PEER_ID.test(peerId) ? this.reach?.(peerId, reach.rendezvous) : undefined;
        connection = new PeerConnection({ ip: first.host, port: first.port }, this.localAddress, this.chunkOptions, [], dialer);
        connection.mapped = first.reach?.mapped === true;
        this.connections.set(key, connection);
        joined = true;
      }
      for (const other of known === undefined ? fallbacks : [first, ...fallbacks]) {
        if (other.key !== key) connection.addAlternate({ ip: other.host, port: other.port });
      }
      if (first.peerId !== undefined) this.keyOfPeer.set(first.peerId, key);
      this.origins.set(key, [...new Set([first, ...fallbacks].flatMap((c) => c.sources))]);
      if (first.complete || fallbacks.some((c) => c.complete)) this.complete.add(key);
      else this.complete.delete(key);
      keys.push(key);
    }
    if (joined) this.exchange.noticed();
    return keys;
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
   * The first look: asks every source at once, and again with backoff until one gives a peer or `waitMs` is
   * over (a DHT still joining, a tracker restarting). Returns the keys of the first answer with peers (more
   * join through `feed` as they come). Throws, naming what each source said, when none gave a peer in time.
   */
  async discover(waitMs: number, signal?: AbortSignal, onWaiting?: (message: string) => void): Promise<string[]> {
    const deadline = Date.now() + waitMs;
    let delay = 250;
    /** What each source said last: its error, or that it knows nobody. */
    const said = new Map<string, Error | null>();
    for (;;) {
      const first: string[] = [];
      let open = true;
      const round = await unlessCancelled(
        // Answers after the first are kept in the pool (and go to the taker once there is one), not listed here.
        this.finder.round(this.sha1, (candidates) => this.take(candidates, (keys) => (open ? first.push(...keys) : 0)), signal),
        signal,
      );
      open = false;
      if (first.length > 0) return first;
      for (const { name } of round.answeredBy) said.set(name, null);
      for (const failure of round.failures) said.set(failure.source, failure.error);
      // Every source answered for good that it knows nobody (trackers without a DHT or a LAN): no wait.
      const final = round.failures.every((f) => f.error instanceof P2PError && f.error.code === "UNKNOWN_HASH") && round.answeredBy.every((answer) => answer.final);
      const left = deadline - Date.now();
      if (final || left <= 0) throw nobodyFound(this.sha1, said, final ? 0 : waitMs);
      if (delay === 250) onWaiting?.(`no peer yet (${describe(said)}); asking again for up to ${Math.round(waitMs / 1000)} s (--wait)`);
      await pause(Math.min(left, delay * (0.75 + Math.random() * 0.5)), signal);
      delay = Math.min(delay * 2, 5000);
    }
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

/** What each source said, in one line: `tracker:http://...: no peers; dht: ...`. */
function describe(said: ReadonlyMap<string, Error | null>): string {
  return [...said].map(([source, error]) => `${source}: ${error === null ? "no peers" : error.message}`).join("; ");
}

/**
 * The error of a start that found nobody, naming what each source said. A tracker that says nobody has the
 * file makes it UNKNOWN_HASH (exit 3); every source unreachable, TRACKER_UNREACHABLE (exit 4), one source's
 * own error when it was the only one; otherwise NO_PEERS.
 */
function nobodyFound(sha1: string, said: ReadonlyMap<string, Error | null>, waitMs: number): Error {
  const errors = [...said.values()].filter((e): e is Error => e !== null);
  const waited = waitMs >= 1000 ? ` in ${Math.round(waitMs / 1000)} s` : "";
  const tried = describe(said);
  const unknown = errors.find((e) => e instanceof P2PError && e.code === "UNKNOWN_HASH");
  if (said.size === 1 && errors.length === 1) return errors[0]!;
  if (unknown instanceof P2PError) return new P2PError(unknown.code, unknown.kind, `no source knows a peer of ${sha1}${waited} (${tried})`, unknown.hint);
  if (errors.length === said.size && said.size > 0) {
    return Errors.trackerUnreachable(`no source could be asked${waited}: ${tried}`, "start one with `p2p tracker`, or pass working --tracker URLs (env P2P_TRACKER)");
  }
  return Errors.noPeers(`no source knows a peer of ${sha1}${waited} (${tried})`, "try again when a peer that has the file is online, or wait longer (--wait)");
}
