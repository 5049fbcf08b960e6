/**
 * Who may download from this daemon right now: a bounded number of clients at once (upload slots), so that
 * a few are served at full speed rather than all at a trickle, as BitTorrent's choker does. Plain values
 * and an injected clock; the public server asks `admit` before it sends file data.
 *
 * - A free slot is given at once. When all are taken, a client is refused with the time until the next
 *   rechoke (the server answers 503 with Retry-After), never kept waiting on an open request.
 * - Every `rechokeMs` the slots are dealt again among the clients that asked recently: first to those that
 *   uploaded most to this daemon lately (reciprocity: they are downloading what we also want), then to
 *   those that waited longest since they last held one, so that a seed with nothing to reciprocate turns
 *   its slots round in turns. One slot is optimistic: every `optimisticMs` it goes to a client chosen at
 *   random among the rest, so that a newcomer with nothing to offer yet gets its first chunks.
 * - A holder frees its slot once it has had no reply in flight for `idleMs` (a long reply, a whole file
 *   or a chunk under a low upload limit, holds it throughout); one given a slot at a rechoke has until the
 *   Retry-After it was told, plus `idleMs`, to come back for it.
 * - At most MAX_CLIENTS addresses are remembered: the least recently seen of those without a slot give way.
 */

export interface UploadSlotOptions {
  slots: number;
  rechokeMs: number;
  optimisticMs: number;
  idleMs: number;
}

export const DEFAULT_UPLOAD_SLOTS: UploadSlotOptions = { slots: 8, rechokeMs: 10_000, optimisticMs: 30_000, idleMs: 5_000 };

export type Admission = { ok: true } | { ok: false; retryAfterSec: number };

interface Client {
  /** Holds a slot now. */
  holding: boolean;
  optimistic: boolean;
  lastRequest: number;
  /** Replies to it in flight now (admitted and not yet released). */
  active: number;
  /** When a rechoke gave it its slot: it may not be asking yet (it waits out its Retry-After). */
  grantedAt: number;
  /** When it last held a slot (while holding: now); 0 if never. */
  lastHeld: number;
  /** When it last showed it wants data without asking for any (it follows a super-seeding view here). */
  lastInterest: number;
  /** Bytes it sent this daemon in the current and the previous rechoke period. */
  credit: number;
  previousCredit: number;
  uploaded: number;
}

/** When the client last asked for data or followed a super-seeding view here: when it last wanted some. */
function lastWanted(client: Client): number {
  return Math.max(client.lastRequest, client.lastInterest);
}

/** How long a client that stopped asking is remembered (its credit with it). */
const FORGET_MS = 120_000;
/** Addresses remembered at once; a flood of new ones pushes out the oldest without a slot. */
export const MAX_CLIENTS = 4096;
/** The longest Retry-After told: a client given a slot at a rechoke may come back this late. */
const MAX_RETRY_AFTER_MS = 10_000;

export class UploadSlots {
  private readonly clients = new Map<string, Client>();
  private nextRechoke: number;
  private nextOptimistic: number;

  constructor(
    private options: UploadSlotOptions = DEFAULT_UPLOAD_SLOTS,
    now = 0,
    private readonly random: () => number = Math.random,
  ) {
    this.nextRechoke = now + options.rechokeMs;
    this.nextOptimistic = now + options.optimisticMs;
  }

  get slots(): number {
    return this.options.slots;
  }

  /** Changes the number of slots; the next rechoke applies it to holders (a new one takes effect at once). */
  setSlots(slots: number): void {
    this.options = { ...this.options, slots: Math.max(1, Math.floor(slots)) };
  }

  /**
   * Whether `client` may be sent file data now; when it may, the caller calls `release` once the reply is
   * over (sent, failed or abandoned).
   */
  admit(client: string, now: number): Admission {
    if (now >= this.nextRechoke) this.rechoke(now);
    const state = this.clients.get(client) ?? this.remember(client, now);
    state.lastRequest = now;
    if (state.holding) {
      state.lastHeld = now;
      state.active++;
      return { ok: true };
    }
    this.freeIdle(now);
    if (this.holders().length < this.options.slots) {
      state.holding = true;
      state.lastHeld = now;
      state.active++;
      return { ok: true };
    }
    return { ok: false, retryAfterSec: Math.min(10, Math.max(1, Math.ceil((this.nextRechoke - now) / 1000))) };
  }

  /**
   * Whether `client` would be admitted now (it holds a slot, or one is free), without admitting it: a
   * super-seeding sharer shows chunks only to such clients. Asking also counts as the client's interest at
   * the next rechoke, as a refused request does.
   */
  wouldAdmit(client: string, now: number): boolean {
    if (now >= this.nextRechoke) this.rechoke(now);
    const state = this.clients.get(client) ?? this.remember(client, now);
    state.lastInterest = now;
    if (state.holding) return true;
    this.freeIdle(now);
    return this.holders().length < this.options.slots;
  }

  /** A reply `admit` allowed is over. */
  release(client: string, now: number): void {
    const state = this.clients.get(client);
    if (state === undefined || state.active === 0) return;
    state.active--;
    state.lastRequest = Math.max(state.lastRequest, now);
  }

  /** This daemon received `bytes` from `client` (as a downloader): what earns it a slot here. */
  credit(client: string, bytes: number, now: number): void {
    (this.clients.get(client) ?? this.remember(client, now)).credit += bytes;
  }

  /** File data sent to `client`, for `status()`. */
  served(client: string, bytes: number): void {
    const state = this.clients.get(client);
    if (state !== undefined) state.uploaded += bytes;
  }

  /** The clients holding a slot now, for `p2p status`. */
  status(): { slots: number; holders: { client: string; optimistic: boolean; uploadedBytes: number }[]; waiting: number } {
    return {
      slots: this.options.slots,
      holders: [...this.clients].filter(([, c]) => c.holding).map(([client, c]) => ({ client, optimistic: c.optimistic, uploadedBytes: c.uploaded })),
      waiting: [...this.clients.values()].filter((c) => !c.holding && lastWanted(c) > this.nextRechoke - 2 * this.options.rechokeMs).length,
    };
  }

  /** Deals the slots again among the clients that asked within the last two periods. */
  rechoke(now: number): void {
    this.nextRechoke = now + this.options.rechokeMs;
    for (const [key, client] of this.clients) {
      if (!client.holding && now - lastWanted(client) > FORGET_MS) this.clients.delete(key);
    }
    const interested = [...this.clients].filter(([, c]) => now - lastWanted(c) <= 2 * this.options.rechokeMs);
    const score = (c: Client): number => c.credit + c.previousCredit;
    interested.sort(([, a], [, b]) => score(b) - score(a) || a.lastHeld - b.lastHeld);
    // One slot of several is optimistic; a single slot is a regular one, dealt round at every rechoke.
    const regularCount = this.options.slots >= 2 ? this.options.slots - 1 : this.options.slots;
    const regular = new Set(interested.slice(0, regularCount).map(([key]) => key));
    // The optimistic slot: kept until its turn is over (if its holder still asks), then drawn afresh.
    let optimistic = [...this.clients].find(([key, c]) => c.optimistic && c.holding && !regular.has(key) && now - c.lastRequest <= this.options.idleMs)?.[0];
    if (regularCount === this.options.slots) optimistic = undefined;
    else if (optimistic === undefined || now >= this.nextOptimistic) {
      // Drawn among those without a regular slot, the one whose turn ends left out (unless it is alone).
      const all = interested.filter(([key]) => !regular.has(key)).map(([key]) => key);
      const rest = all.length > 1 ? all.filter((key) => key !== optimistic) : all;
      optimistic = rest.length === 0 ? undefined : rest[Math.floor(this.random() * rest.length)];
      this.nextOptimistic = now + this.options.optimisticMs;
    }
    for (const [key, client] of this.clients) {
      const holds = regular.has(key) || key === optimistic;
      if (client.holding && !holds) client.lastHeld = now;
      if (!client.holding && holds) client.grantedAt = now;
      client.holding = holds;
      client.optimistic = key === optimistic && !regular.has(key);
      client.previousCredit = client.credit;
      client.credit = 0;
    }
  }

  private holders(): Client[] {
    return [...this.clients.values()].filter((c) => c.holding);
  }

  private freeIdle(now: number): void {
    for (const client of this.clients.values()) {
      if (!client.holding || client.active > 0) continue;
      const since = Math.max(client.lastRequest, client.grantedAt + MAX_RETRY_AFTER_MS);
      if (now - since > this.options.idleMs) client.holding = false;
    }
  }

  private remember(client: string, now: number): Client {
    if (this.clients.size >= MAX_CLIENTS) this.forgetOldest();
    const state: Client = { holding: false, optimistic: false, lastRequest: now, active: 0, grantedAt: Number.NEGATIVE_INFINITY, lastHeld: 0, lastInterest: 0, credit: 0, previousCredit: 0, uploaded: 0 };
    this.clients.set(client, state);
    return state;
  }

  /** Makes room: the client without a slot seen least recently goes (a holder never does). */
  private forgetOldest(): void {
    let oldest: string | undefined;
    let at = Number.POSITIVE_INFINITY;
    for (const [key, client] of this.clients) {
      const seen = lastWanted(client);
      if (!client.holding && seen < at) {
        oldest = key;
        at = seen;
      }
    }
    if (oldest !== undefined) this.clients.delete(oldest);
  }
}
