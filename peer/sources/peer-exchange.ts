import type { FetchLimits } from "../download/peer-fault.js";
import type { FoundPeer } from "./candidate-table.js";
import { admit, MAX_ANSWER_BYTES, parsePeersAnswer } from "./exchange-answer.js";

/**
 * Peer exchange for one download: asks the peers it knows for the peers they recently exchanged chunks with
 * (`GET /v1/files/{sha1}/peers`), each at most every `intervalMs`, a new peer as soon as it joins, and every
 * peer not asked in the last `hurriedMs` when the download runs low on peers. What they say is offered to
 * the download as coming from `exchange:<the peer that said it>`, after exchange-answer.ts's checks.
 */

/** What it needs of a peer: its key, and a capped GET (PeerConnection.small). */
export interface ExchangePeer {
  readonly key: string;
  /** Where it is: what it names must reach at least as far (address-scope.ts). */
  readonly address: { ip: string };
  small(path: string, limits: FetchLimits, maxBytes: number): Promise<Buffer>;
}

export interface ExchangeTiming {
  intervalMs: number;
  hurriedMs: number;
  /** How often it looks for peers due to be asked. */
  tickMs: number;
  /** Questions on their way at once. */
  concurrency: number;
  limits: FetchLimits;
}

export const DEFAULT_EXCHANGE_TIMING: ExchangeTiming = { intervalMs: 30_000, hurriedMs: 5_000, tickMs: 1000, concurrency: 4, limits: { idleMs: 5000, deadlineMs: 10_000 } };

export class PeerExchange {
  /** When each peer was last asked. */
  private readonly asked = new Map<string, number>();
  /** The addresses each answering peer has put forward so far (capped: exchange-answer.ts `admit`). */
  private readonly credited = new Map<string, Set<string>>();
  /** Every address the exchange has put forward in this download. */
  private readonly all = new Set<string>();
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly sha1: string,
    private readonly peers: () => Iterable<ExchangePeer>,
    private readonly offer: (source: string, found: FoundPeer[]) => void,
    private readonly timing: ExchangeTiming = DEFAULT_EXCHANGE_TIMING,
  ) {}

  /** A peer joined: asked at once (once a tick, so that a batch of joins is one pass). */
  noticed(): void {
    if (this.closed) return;
    if (this.timer === null) {
      this.timer = setInterval(() => this.askDue(this.timing.intervalMs), this.timing.tickMs);
      this.timer.unref();
    }
    setImmediate(() => this.askDue(this.timing.intervalMs));
  }

  /** The download runs low on peers: every peer not asked lately is asked now. */
  hurry(): void {
    this.askDue(this.timing.hurriedMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private askDue(minAgeMs: number): void {
    if (this.closed) return;
    const now = Date.now();
    for (const peer of this.peers()) {
      if (this.inFlight >= this.timing.concurrency) return;
      const last = this.asked.get(peer.key);
      if (last !== undefined && now - last < minAgeMs) continue;
      this.asked.set(peer.key, now);
      this.inFlight += 1;
      void this.ask(peer).finally(() => (this.inFlight -= 1));
    }
  }

  private async ask(peer: ExchangePeer): Promise<void> {
    let body: Buffer;
    try {
      body = await peer.small(`/v1/files/${this.sha1}/peers`, this.timing.limits, MAX_ANSWER_BYTES);
    } catch {
      // An old peer without the route, a busy one, one that answers too much: it just tells us nothing.
      return;
    }
    if (this.closed) return;
    let credited = this.credited.get(peer.key);
    if (credited === undefined) {
      credited = new Set();
      this.credited.set(peer.key, credited);
    }
    const found = admit(credited, this.all, parsePeersAnswer(body.toString("utf8"), peer.address.ip));
    if (found.length > 0) this.offer(`exchange:${peer.key}`, found);
  }
}
