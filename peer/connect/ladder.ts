import type { Socket } from "node:net";
import type { PeerPath } from "../../common/rendezvous-wire.js";

/**
 * The ways to one peer that will not take a plain dial (the tracker found it unreachable), tried in order:
 * reversed, punched, relayed (steps.ts builds them). Like Happy Eyeballs, a way that has not succeeded or
 * failed within STAGGER_MS gets the next one started beside it; the first socket wins and the others are
 * given up (a socket that still arrives is closed). The way that worked is tried first for the peer's next
 * socket; a way that failed twice in a row is not tried again while another works. Only ordering here: the
 * steps do the I/O, and the download sees only sockets (and `path`, for its report).
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
/**
 * A reversal normally arrives in a few round trips; one that has not by now may never (this machine may not be
 * reachable after all: its own verdict is often not known yet when a download starts), so punching starts too.
 */
const STAGGER_MS = 1_500;

export class NoPathError extends Error {
  constructor(readonly attempts: readonly Attempt[]) {
    super(attempts.length === 0 ? "no way to reach this peer" : `no way to reach this peer: ${attempts.map((a) => `${a.path}: ${a.error}`).join("; ")}`);
  }
}

export class Ladder {
  private worked: Step | null = null;
  private readonly failures = new Map<Step, number>();

  constructor(
    private readonly steps: readonly Step[],
    private readonly staggerMs = STAGGER_MS,
  ) {}

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

  /**
   * One dial at a time: the peer's first socket finds the way (and the tracker is asked at most once per way),
   * the next ones take it straight away rather than each trying every way at once.
   */
  dial(signal?: AbortSignal): Promise<Socket> {
    const turn = this.turn.then(() => this.dialNow(signal));
    this.turn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private turn: Promise<void> = Promise.resolve();

  private dialNow(signal?: AbortSignal): Promise<Socket> {
    const order = this.order();
    const attempts: Attempt[] = [];
    if (signal?.aborted === true || order.length === 0) return Promise.reject(new NoPathError(attempts));
    const giveUp = new AbortController();
    const stop = signal === undefined ? giveUp.signal : AbortSignal.any([signal, giveUp.signal]);
    return new Promise<Socket>((resolve, reject) => {
      let next = 0;
      let pending = 0;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        done = true;
        clearTimeout(timer);
        giveUp.abort();
      };
      const launch = (): void => {
        clearTimeout(timer);
        if (done || next >= order.length || stop.aborted) return;
        const step = order[next++]!;
        pending++;
        step.open(stop).then(
          (socket) => {
            pending--;
            if (done) {
              socket.destroy();
              return;
            }
            finish();
            this.worked = step;
            this.failures.delete(step);
            resolve(socket);
          },
          (error: unknown) => {
            pending--;
            if (done) return;
            if (this.worked === step) this.worked = null;
            this.failures.set(step, (this.failures.get(step) ?? 0) + 1);
            attempts.push({ path: step.path, error: error instanceof Error ? error.message : String(error) });
            if (next < order.length && !stop.aborted) launch();
            else if (pending === 0) {
              finish();
              reject(new NoPathError(attempts));
            }
          },
        );
        timer = setTimeout(launch, this.staggerMs);
      };
      launch();
    });
  }
}
