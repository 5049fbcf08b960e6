import { hostPort } from "../../common/ip.js";

/**
 * Every way of finding peers (trackers now; links, the DHT, the LAN later) produces the same thing: candidate
 * peers. This table is the one place they meet: merged by address, each remembering which sources named it
 * and when, and capped, the least recently named giving way to fresh ones. Pure: time is passed in.
 */

export interface FoundPeer {
  host: string;
  port: number;
  /** It has the whole file (a source may not know: then false). */
  complete: boolean;
  /**
   * The peer's id, when the source says it (a tracker does): a dual-stack peer is listed once per address
   * family, and its addresses are one peer (family-preference.ts).
   */
  peerId?: string;
  /** What a tracker said about reaching it; for the connection to it (peer/connect/), never the scheduler. */
  reach?: PeerReach;
}

/**
 * A tracker's word on how to reach a peer: whether its dial-back got through, whether the port is a mapping
 * on the peer's router, and the tracker (its base URL) whose rendezvous socket the peer holds when it did not.
 */
export interface PeerReach {
  reachable?: boolean;
  mapped?: boolean;
  rendezvous: string;
}

export interface Candidate extends FoundPeer {
  /** host:port, as the download's peers are keyed. */
  key: string;
  /** Where it was found, first first: `tracker:<url>`, and later other kinds. */
  sources: string[];
  firstSeen: number;
  lastSeen: number;
}

/** The kind of a source name: `tracker` for `tracker:http://...`. What `--json` reports as a peer's source. */
export function sourceKind(source: string): string {
  const colon = source.indexOf(":");
  return colon === -1 ? source : source.slice(0, colon);
}

export class CandidateTable {
  private readonly candidates = new Map<string, Candidate>();

  constructor(readonly limit = 500) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("a candidate table holds at least one peer");
  }

  get size(): number {
    return this.candidates.size;
  }

  get(key: string): Candidate | undefined {
    return this.candidates.get(key);
  }

  list(): Candidate[] {
    return [...this.candidates.values()];
  }

  /**
   * Merges one answer of one source. Returns the candidates it named that the table holds, complete ones
   * first (a complete peer can send the manifest and every chunk), each once, in the answer's order otherwise.
   */
  merge(source: string, peers: readonly FoundPeer[], now: number): Candidate[] {
    const named = new Map<string, Candidate>();
    for (const peer of peers) {
      const key = hostPort(peer.host, peer.port);
      let candidate = this.candidates.get(key);
      if (candidate === undefined) {
        if (this.candidates.size >= this.limit && !this.evictOldest(named)) continue;
        candidate = { key, host: peer.host, port: peer.port, complete: peer.complete, sources: [source], firstSeen: now, lastSeen: now };
        if (peer.peerId !== undefined) candidate.peerId = peer.peerId;
        if (peer.reach !== undefined) candidate.reach = peer.reach;
        this.candidates.set(key, candidate);
      } else {
        candidate.complete ||= peer.complete;
        if (candidate.peerId === undefined && peer.peerId !== undefined) candidate.peerId = peer.peerId;
        // The latest word wins: a peer that became reachable (or stopped being) is dialled accordingly.
        if (peer.reach !== undefined) candidate.reach = peer.reach;
        candidate.lastSeen = now;
        if (!candidate.sources.includes(source)) candidate.sources.push(source);
      }
      named.set(key, candidate);
    }
    return [...named.values()].sort((a, b) => Number(b.complete) - Number(a.complete));
  }

  /** Makes room by dropping the least recently named candidate that this answer did not name. */
  private evictOldest(keep: ReadonlyMap<string, Candidate>): boolean {
    let oldest: Candidate | undefined;
    for (const candidate of this.candidates.values()) {
      if (keep.has(candidate.key)) continue;
      if (oldest === undefined || candidate.lastSeen < oldest.lastSeen) oldest = candidate;
    }
    if (oldest === undefined) return false;
    this.candidates.delete(oldest.key);
    return true;
  }
}
