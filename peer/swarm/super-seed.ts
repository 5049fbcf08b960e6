import { HaveFeed } from "./have-feed.js";

/**
 * Super-seeding (after BEP 16) for a file this daemon has whole: while several clients download it at once
 * and some chunk has never left this daemon, each client's `/have` shows only a few chunks, never sent
 * and shown to nobody else meanwhile, and one more each time the client takes one. So the clients ask this daemon for different chunks and get the rest from each other, and it
 * sends little more than one copy before the swarm holds the whole file. Once every chunk has been sent
 * once (or when only one client is downloading) every client is told the file is complete, as usual.
 *
 * What it shows is a hint, not a lock: a request for any chunk is still answered.
 */

export interface SuperSeedOptions {
  /** Chunks shown to a client and not yet taken by it: at least `reveal`, and `revealInAll` split among the clients. */
  reveal: number;
  revealInAll: number;
  /** A chunk shown to a client that holds an upload slot here, not taken within this long, may be shown to another... */
  outstandingMs: number;
  /**
   * ...and one it has not asked for within this long: time for a client that asks a peer for one chunk at
   * a time to come to its third while 8 share this uplink (1.7 s a chunk at 40 Mbit/s).
   */
  unrequestedMs: number;
  /** Super-seeding starts only with this many clients asking within `activeMs`. */
  minClients: number;
  activeMs: number;
  /** Clients given their own view at most; others are told the file is complete. */
  maxViews: number;
}

export const DEFAULT_SUPER_SEED: SuperSeedOptions = { reveal: 3, revealInAll: 0, outstandingMs: 15_000, unrequestedMs: 3_000, minClients: 2, activeMs: 10_000, maxViews: 64 };

interface View {
  feed: HaveFeed;
  /** When the client last asked for its view: one that stops asking gives its place up. */
  lastSeen: number;
  /** Shown and not yet taken, with when it was shown. */
  outstanding: Map<number, number>;
}

export class SuperSeed {
  private readonly sentCount: Uint32Array;
  private sentOnce = 0;
  private readonly views = new Map<string, View>();
  /** For each chunk shown and not yet taken: to whom, when, and whether it has asked for it since. */
  private readonly shownTo = new Map<number, { client: string; at: number; requested: boolean }>();
  private readonly lastSeen = new Map<string, number>();
  /**
   * The first chunk that may not have been sent yet: chunks are shown in ascending order (each to one
   * client only, so the clients still get different ones), which lets a lone downloader's SHA-1 stream.
   */
  private next = 0;
  /** When the first client asked: until `activeMs` after, every client is shown part (the crowd arrives). */
  private firstSeen: number | null = null;
  private over = false;
  private startedAt: number | null = null;
  private endedAt: number | null = null;
  private sends = 0;
  /** Clients given a view of their own, and answers of "the whole file" while it was not over (too few clients). */
  private viewsGiven = 0;
  private wholeTold = 0;

  constructor(
    readonly chunkCount: number,
    private readonly options: SuperSeedOptions = DEFAULT_SUPER_SEED,
    /** Told once every chunk has been sent once (for the daemon's log). */
    private readonly onOver: (summary: string) => void = () => undefined,
    /**
     * Whether `client` can be sent data now (it holds an upload slot here, or one is free): only such a
     * client is shown chunks, so that none is held by a client that cannot take it. Asked at each top-up.
     */
    private readonly canTake: (client: string, now: number) => boolean = () => true,
  ) {
    this.sentCount = new Uint32Array(chunkCount);
    if (chunkCount === 0) this.over = true;
  }

  /** Whether every chunk has left this daemon at least once: super-seeding is over for good. */
  get done(): boolean {
    return this.over;
  }

  /**
   * A request of any kind for this file from `client`: who is downloading it now. Bounded: past
   * 4 x maxViews addresses, the stale ones go, and if none is stale a new address is not counted.
   */
  saw(client: string, now: number): void {
    this.firstSeen ??= now;
    if (!this.lastSeen.has(client) && this.lastSeen.size >= 4 * this.options.maxViews) {
      for (const [key, at] of this.lastSeen) if (now - at > this.options.activeMs) this.lastSeen.delete(key);
      if (this.lastSeen.size >= 4 * this.options.maxViews) return;
    }
    this.lastSeen.set(client, now);
    // A client that asks for chunks is following its view too (a stream asks for the view itself only
    // after a pause): it keeps its place.
    const view = this.views.get(client);
    if (view !== undefined) view.lastSeen = now;
  }

  /** What `/have` shows this client: its own view, or null for "the whole file". */
  view(client: string, now: number): HaveFeed | null {
    if (this.over) return null;
    this.saw(client, now);
    let view = this.views.get(client);
    if (view === undefined) {
      if (this.views.size >= this.options.maxViews) this.dropStaleViews(now);
      // Downloaders that start together ask within moments of each other: the first is shown part too, or
      // it would take from this sharer what the others are being shown.
      const young = now - (this.firstSeen ?? now) < this.options.activeMs;
      if (this.views.size >= this.options.maxViews || (!young && this.activeClients(now) < this.options.minClients)) {
        this.wholeTold++;
        return null;
      }
      this.viewsGiven++;
      view = { feed: new HaveFeed(this.chunkCount), outstanding: new Map(), lastSeen: now };
      this.views.set(client, view);
    }
    view.lastSeen = now;
    this.topUp(view, client, now);
    return view.feed;
  }

  /**
   * `client` asked for a chunk and holds an upload slot: what it was shown stays its own while it takes one
   * after another (it asks one at a time), until it loses its slot.
   */
  requested(client: string, index: number): void {
    const shown = this.shownTo.get(index);
    if (shown?.client === client) shown.requested = true;
    for (const other of this.views.get(client)?.outstanding.keys() ?? []) {
      const mine = this.shownTo.get(other);
      if (mine?.client === client) mine.requested = true;
    }
  }

  /**
   * `client` was refused an upload slot here: what it was shown goes to others now, rather than wait with a
   * client that cannot take it.
   */
  refused(client: string): void {
    const view = this.views.get(client);
    if (view === undefined) return;
    for (const index of view.outstanding.keys()) if (this.shownTo.get(index)?.client === client) this.shownTo.delete(index);
    view.outstanding.clear();
  }

  /** A chunk was sent to `client`: counted, and the client is shown another. */
  sent(client: string, index: number, now: number): void {
    if (index < 0 || index >= this.chunkCount || this.over) return;
    this.startedAt ??= now;
    this.sends++;
    if (this.sentCount[index]!++ === 0 && ++this.sentOnce === this.chunkCount) {
      this.endedAt = now;
      this.finish();
      this.onOver(this.summary());
      return;
    }
    if (this.shownTo.get(index)?.client === client) this.shownTo.delete(index);
    const view = this.views.get(client);
    if (view === undefined) return;
    view.outstanding.delete(index);
    this.topUp(view, client, now);
  }

  /** Views of clients that have not asked within 2 x activeMs (a follower's view is refreshed every 3 s) go. */
  private dropStaleViews(now: number): void {
    for (const [client, view] of this.views) {
      if (now - view.lastSeen <= 2 * this.options.activeMs) continue;
      view.feed.close();
      this.views.delete(client);
      for (const index of view.outstanding.keys()) if (this.shownTo.get(index)?.client === client) this.shownTo.delete(index);
    }
  }

  private activeClients(now: number): number {
    let count = 0;
    for (const at of this.lastSeen.values()) if (now - at <= this.options.activeMs) count++;
    return count;
  }

  private topUp(view: View, client: string, now: number): void {
    // A client that cannot be sent data now is shown nothing more (it follows its view, and is shown some
    // once it gets a slot), and gives up what it was shown.
    if (!this.canTake(client, now)) {
      this.refused(client);
      return;
    }
    for (const index of view.outstanding.keys()) {
      const shown = this.shownTo.get(index);
      if (shown?.client === client && !this.expired(shown, now)) continue;
      view.outstanding.delete(index);
      if (shown?.client === client) this.shownTo.delete(index);
    }
    // A few chunks each when many download; more when few do, so that a lone downloader is not held back.
    const reveal = Math.max(this.options.reveal, Math.ceil(this.options.revealInAll / Math.max(1, this.activeClients(now))));
    while (view.outstanding.size < reveal) {
      const index = this.choose(view, now);
      if (index === null) return;
      view.outstanding.set(index, now);
      this.shownTo.set(index, { client, at: now, requested: false });
      view.feed.add(index);
    }
  }

  /**
   * The lowest chunk never sent, not shown to this client yet, and not held by another's showing (shown
   * within `outstandingMs` and asked for, or within `unrequestedMs`).
   */
  private choose(view: View, now: number): number | null {
    while (this.next < this.chunkCount && this.sentCount[this.next]! > 0) this.next++;
    for (let index = this.next; index < this.chunkCount; index++) {
      if (this.sentCount[index]! > 0 || view.feed.have.has(index)) continue;
      const shown = this.shownTo.get(index);
      if (shown !== undefined && !this.expired(shown, now)) continue;
      return index;
    }
    return null;
  }

  private expired(shown: { at: number; requested: boolean }, now: number): boolean {
    return now - shown.at >= (shown.requested ? this.options.outstandingMs : this.options.unrequestedMs);
  }

  /** For the log: chunks sent until every one had left once, and how long that took. */
  summary(): string {
    const seconds = this.startedAt === null || this.endedAt === null ? "" : ` in ${((this.endedAt - this.startedAt) / 1000).toFixed(1)} s`;
    return `${this.sends} chunks sent for ${this.chunkCount}${seconds}, ${this.viewsGiven} clients shown part, ${this.wholeTold} answers of the whole file`;
  }

  /** Ends super-seeding now (another seed appeared): every client is told the file is complete. */
  stop(): void {
    this.finish();
  }

  private finish(): void {
    this.over = true;
    for (const view of this.views.values()) view.feed.close();
    this.views.clear();
    this.shownTo.clear();
  }
}
