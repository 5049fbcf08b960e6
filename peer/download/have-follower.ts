import { pause } from "./cancel.js";
import { PeerFault } from "./peer-fault.js";
import type { PeerConnection } from "./peer-http.js";
import { HOLD_MS } from "../server/have-route.js";

/**
 * Learns which chunks each incomplete peer has: its `/have` bitfield once, then `/have?since=<seq>&stream=1`,
 * an event stream with an event per change, nothing while nothing changes (one open request per followed
 * peer, asked again each minute or when it breaks); a peer that answers a long-poll instead is asked again
 * after each answer. What a peer says is only a hint for the scheduler: every chunk is still verified, and
 * one it turns out not to have is a `chunk_missing` refusal.
 */

export type HaveUpdate = { kind: "complete" } | { kind: "bitfield"; bits: Uint8Array } | { kind: "added"; indices: number[] };

/** Peers followed at once: each costs one open request on both sides; more wait their turn. */
const MAX_FOLLOWED = 64;
/** The peer holds a follow for up to 10 s (server/have-route.ts); allow for that and a slow answer. */
const FOLLOW_LIMITS = { idleMs: 15_000, deadlineMs: 25_000 };
/** A stream sends something at least every 10 s and lasts up to STREAM_MS (60 s); then it is asked again. */
const STREAM_LIMITS = { idleMs: 15_000, deadlineMs: 75_000 };
const MAX_FAILURES = 3;

export class HaveFollower {
  private readonly followed = new Set<string>();
  /** Peers that said they have the whole file: not asked again unless a refusal says otherwise. */
  private readonly whole = new Set<string>();
  /** Peers to follow once others stop (at most MAX_FOLLOWED at once). */
  private readonly waiting = new Set<string>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly sha1: string,
    private readonly chunkCount: number,
    private readonly connection: (key: string) => PeerConnection,
    private readonly onUpdate: (key: string, update: HaveUpdate) => void,
    /** A peer whose `/have` never gave a usable answer (an older peer, a broken one): the caller decides. */
    private readonly onSilent: (key: string) => void = () => undefined,
  ) {}

  /**
   * Starts following a peer, unless it is followed already, enough are, or it said it has the whole file
   * (`again`: it refused a chunk since, so ask anyway).
   */
  follow(key: string, again = false): void {
    if (again) this.whole.delete(key);
    if (this.closed || this.followed.has(key) || this.whole.has(key)) return;
    if (this.followed.size >= MAX_FOLLOWED) {
      this.waiting.add(key);
      return;
    }
    this.followed.add(key);
    void this.run(key).then(
      (answered) => {
        this.followed.delete(key);
        if (!answered && !this.closed) this.onSilent(key);
        const next = this.waiting.values().next();
        if (next.done !== true) {
          this.waiting.delete(next.value);
          this.follow(next.value);
        }
      },
      () => this.followed.delete(key),
    );
  }

  /** Stops following; requests on their way end when the pool closes their connections. */
  close(): void {
    this.stopping.abort();
  }

  private get closed(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Follows one peer until it is complete, gone or closed; resolves whether it ever answered usably. */
  private async run(key: string): Promise<boolean> {
    const path = `/v1/files/${this.sha1}/have`;
    const maxBytes = 65_536 + Math.ceil(this.chunkCount / 6) * 2;
    // Where following has got to (null: the bitfield is still to come), and, set by an answer, why it
    // stops: the peer is complete (`done`) or answered what no peer of ours would (`invalid`).
    const state: { seq: number | null; ended: "done" | "invalid" | null; answered: boolean } = { seq: null, ended: null, answered: false };
    let failures = 0;
    // Each answer, whether the bitfield, a long-poll's or an event of the stream; false: stop reading.
    const take = (body: string): boolean => {
      let answer: unknown;
      try {
        answer = JSON.parse(body);
      } catch {
        answer = null;
      }
      const update = this.read(answer, state.seq);
      if (update === null) {
        state.ended = "invalid";
        return false;
      }
      failures = 0;
      if (this.closed) return false;
      state.answered = true;
      this.onUpdate(key, update.update);
      if (update.update.kind === "complete") {
        this.whole.add(key);
        state.ended = "done";
        return false;
      }
      state.seq = update.seq;
      return true;
    };
    // Streams until a stream is refused (403: a relay that passes only long-polls), then long-polls.
    let streaming = true;
    while (!this.closed && state.ended === null) {
      try {
        if (state.seq === null || !streaming) {
          const query = state.seq === null ? "" : `?since=${state.seq}`;
          take((await this.connection(key).small(`${path}${query}`, FOLLOW_LIMITS, maxBytes)).toString("utf8"));
        } else {
          const began = Date.now();
          let events = 0;
          await this.connection(key).events(`${path}?since=${state.seq}&stream=1`, STREAM_LIMITS, maxBytes, (data) => ++events > 0 && take(data));
          // A stream that ends at once with nothing in it is a fault like a failed request (asked again at
          // once, it would be a loop); one that ran its time without news is not.
          if (events === 0 && Date.now() - began < HOLD_MS) throw new PeerFault("network", "the /have stream ended with no event");
        }
      } catch (error) {
        if (streaming && error instanceof PeerFault && error.refusal?.status === 403) {
          streaming = false;
          continue;
        }
        // A peer that no longer has the file (404), or answers what no peer of ours would (too much, not
        // HTTP), is not followed; a network failure gets a few tries.
        const hopeless = error instanceof PeerFault && (error.refusal?.status === 404 || error.kind === "protocol" || error.kind === "lie");
        if (this.closed || hopeless || ++failures >= MAX_FAILURES) return state.answered;
        await pause(500 * failures, this.stopping.signal).catch(() => undefined);
      }
    }
    return state.ended === "done" || state.answered;
  }

  /** Checks an answer's shape; null (stop following) for anything a peer of ours would not send. */
  private read(answer: unknown, seq: number | null): { update: HaveUpdate; seq: number } | null {
    if (typeof answer !== "object" || answer === null) return null;
    const a = answer as Record<string, unknown>;
    if (a.complete === true) return { update: { kind: "complete" }, seq: this.chunkCount };
    if (a.complete !== false || a.chunks !== this.chunkCount || !Number.isSafeInteger(a.seq) || (a.seq as number) < 0 || (a.seq as number) > this.chunkCount) return null;
    const next = a.seq as number;
    if (seq === null) {
      if (typeof a.bitfield !== "string") return null;
      const bits = Buffer.from(a.bitfield, "base64");
      if (bits.length !== Math.ceil(this.chunkCount / 8)) return null;
      return { update: { kind: "bitfield", bits: new Uint8Array(bits) }, seq: next };
    }
    // A lower position means the peer started its list again (another run of the download there): what it
    // lists is still what it has, and following goes on from there.
    if (!Array.isArray(a.added)) return null;
    const indices = a.added.filter((i): i is number => Number.isInteger(i) && i >= 0 && i < this.chunkCount);
    return { update: { kind: "added", indices }, seq: next };
  }
}
