import type { Socket } from "node:net";
import type { PeerPath } from "../../common/rendezvous-wire.js";

/**
 * The ways to one peer that will not take a plain dial (the tracker found it unreachable), tried in order:
 * reversed, punched, relayed (connectivity.ts builds them). The way that worked is tried first for the
 * peer's next socket; a way that failed twice in a row is not tried again while another works. Pure
 * ordering: the steps do the I/O, and the download sees only sockets (and `path`, for its report).
 */

export interface Step {
  path: PeerPath;
  /** Opens one socket to the peer, ready for HTTP (any handshake done). */
  open(signal?: AbortSignal): Promise<Socket>;
}

/** A failed attempt, for the error that names them all. */
export interface Attempt {
  path: PeerPath;
  error: string;
}

const GIVE_UP_AFTER = 2;

export class NoPathError extends Error {
  constructor(readonly attempts: readonly Attempt[]) {
    super(attempts.length === 0 ? "no way to reach this peer" : `no way to reach this peer: ${attempts.map((a) => `${a.path}: ${a.error}`).join("; ")}`);
  }
}

export class Ladder {
  private worked: Step | null = null;
  private readonly failures = new Map<Step, number>();

  constructor(private readonly steps: readonly Step[]) {}

  /** The path of the way that worked last, else of the first way to try. */
  get path(): PeerPath {
    return (this.worked ?? this.order()[0] ?? this.steps[0])?.path ?? "direct";
  }

  /** The ways in the order to try them now. */
  order(): Step[] {
    const rest = this.steps.filter((step) => step !== this.worked);
    const fresh = rest.filter((step) => (this.failures.get(step) ?? 0) < GIVE_UP_AFTER);
    // Every way failed twice: try them all again rather than give the peer up for good.
    const tried = fresh.length > 0 || this.worked !== null ? fresh : rest;
    return this.worked === null ? tried : [this.worked, ...tried];
  }

  async dial(signal?: AbortSignal): Promise<Socket> {
    const attempts: Attempt[] = [];
    for (const step of this.order()) {
      if (signal?.aborted === true) break;
      try {
        const socket = await step.open(signal);
        this.worked = step;
        this.failures.delete(step);
        return socket;
      } catch (error) {
        if (this.worked === step) this.worked = null;
        this.failures.set(step, (this.failures.get(step) ?? 0) + 1);
        attempts.push({ path: step.path, error: error instanceof Error ? error.message : String(error) });
      }
    }
    throw new NoPathError(attempts);
  }
}
