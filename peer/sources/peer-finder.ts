import { hostPort } from "../../common/ip.js";
import { CandidateTable, type Candidate, type FoundPeer } from "./candidate-table.js";

/** One way of finding the peers of a file: a tracker now; links, the DHT, the LAN later. */
export interface PeerSource {
  /** Where its peers come from, as candidates remember it: `tracker:<url>`. */
  readonly name: string;
  /** The peers it knows for `sha1`; rejects when it cannot say. `signal` ends the look-up at once. */
  find(sha1: string, signal: AbortSignal): Promise<FoundPeer[]>;
  /**
   * Whether an answer naming nobody is final for now (a tracker's list, the peers a user gave), or only what
   * it found so far (a DHT still joining, a LAN query that others may answer late): a download that found
   * nobody waits only while some source is not final.
   */
  readonly final: boolean;
}

export interface SourceFailure {
  source: string;
  error: Error;
}

export interface RoundResult {
  /** How many candidates the caller took from the answers that came before this resolved. */
  taken: number;
  /** Sources that answered so far (a list, maybe empty). */
  answered: number;
  /** Their names, and whether each answer is final (PeerSource.final). */
  answeredBy: Array<{ name: string; final: boolean }>;
  /** Sources that failed so far, with why. */
  failures: SourceFailure[];
}

/**
 * Asks every source at once and merges what they say into one candidate table. A round resolves as soon as
 * one answer gives the caller a peer it takes: a source that is down or slow delays nobody. The other answers
 * still come, are merged, and go to the caller when they land (a late tracker's peers join the download).
 * Closing ends every look-up still on its way, so a finished download does not wait on a slow source.
 */
export class PeerFinder {
  readonly table: CandidateTable;
  private readonly closing = new AbortController();
  /** Look-ups on their way, of this round or an earlier one. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly sources: readonly PeerSource[],
    /** host:port keys never to offer (this peer's own public address). */
    private readonly exclude: ReadonlySet<string> = new Set(),
    table?: CandidateTable,
    private readonly now: () => number = Date.now,
    /** Told how many peers a source named for the first time in this look-up (`p2p status`'s counts). */
    private readonly onNamed?: (source: string, peers: number) => void,
  ) {
    this.table = table ?? new CandidateTable();
  }

  /** `take` gets each answer's candidates (none excluded, complete first) and returns how many it took. */
  round(sha1: string, take: (candidates: Candidate[]) => number, signal?: AbortSignal): Promise<RoundResult> {
    return new Promise((resolve, reject) => {
      const result: RoundResult = { taken: 0, answered: 0, answeredBy: [], failures: [] };
      let pending = this.sources.length;
      if (pending === 0) return resolve(result);
      const lookup = signal === undefined ? this.closing.signal : AbortSignal.any([this.closing.signal, signal]);
      const answer = (source: PeerSource, peers: FoundPeer[]): void => {
        if (this.closing.signal.aborted) return;
        result.answered += 1;
        result.answeredBy.push({ name: source.name, final: source.final });
        const candidates = this.merge(source.name, peers);
        if (candidates.length > 0) result.taken += take(candidates);
      };
      for (const source of this.sources) {
        const looking = source.find(sha1, lookup);
        this.track(looking);
        looking
          .then(
            (peers) => answer(source, peers),
            (error: unknown) => void result.failures.push({ source: source.name, error: error instanceof Error ? error : new Error(String(error)) }),
          )
          .then(() => {
            pending -= 1;
            if (result.taken > 0 || pending === 0) resolve(result);
          }, reject);
      }
    });
  }

  /**
   * Merges peers a source offers outside a round (the peer exchange); returns the candidates, none excluded,
   * complete first.
   */
  merge(source: string, peers: readonly FoundPeer[]): Candidate[] {
    const wanted = peers.filter((peer) => !this.exclude.has(hostPort(peer.host, peer.port)));
    const fresh = wanted.filter((peer) => this.table.get(hostPort(peer.host, peer.port))?.sources.includes(source) !== true).length;
    const candidates = this.table.merge(source, wanted, this.now());
    if (fresh > 0) this.onNamed?.(source, fresh);
    return candidates;
  }

  /** Resolves once every look-up on its way has answered or failed (at once if none is). */
  async quiet(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    this.closing.abort();
  }

  private track(looking: Promise<unknown>): void {
    const settled = looking.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }
}
