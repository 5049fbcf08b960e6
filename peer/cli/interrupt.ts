import { P2PError } from "../errors.js";

/**
 * Ctrl-C during `p2p download`. Before the download's finishing step it stops the download, which keeps
 * its verified chunks, and the CLI says so and exits 130 (128 + SIGINT, what a shell reports for Ctrl-C).
 * Once the finishing step has begun (every chunk verified and written), the download completes and the
 * CLI prints its path and exits 0: stopping it then would save nothing. Either way a second Ctrl-C ends the
 * process at once, which the state on disk survives as it survives kill -9 (finish.ts).
 */

export class Interrupted extends P2PError {
  constructor() {
    super("INTERRUPTED", "internal", "download interrupted: run the same command again to resume it (verified chunks are kept)");
  }

  override get exitCode(): number {
    return 130;
  }
}

export class DownloadInterrupt {
  private readonly controller = new AbortController();
  private finishing = false;
  private readonly listeners = new Set<() => void>();
  private readonly onSigint = (): void => {
    process.off("SIGINT", this.onSigint);
    if (this.finishing) return;
    this.controller.abort();
    for (const listener of this.listeners) listener();
  };

  constructor() {
    process.on("SIGINT", this.onSigint);
  }

  /** Aborts on Ctrl-C before the finishing step. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The download reported its finishing step: Ctrl-C no longer stops it. */
  finishingBegun(): void {
    this.finishing = true;
  }

  /**
   * `work` (a daemon's download, which Ctrl-C cannot reach otherwise), unless Ctrl-C comes first: then
   * `stop` is called (it closes the control connection, which cancels the daemon's download) and the
   * result is Interrupted.
   */
  race<T>(work: Promise<T>, stop: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onInterrupt = (): void => {
        stop();
        reject(new Interrupted());
      };
      work.then(resolve, reject).finally(() => this.listeners.delete(onInterrupt));
      if (this.signal.aborted) onInterrupt();
      else this.listeners.add(onInterrupt);
    });
  }

  /** The error to report: a cancel that Ctrl-C caused is an interruption; anything else is itself. */
  explain(error: unknown): unknown {
    return this.signal.aborted && error instanceof P2PError && error.code === "CANCELLED" ? new Interrupted() : error;
  }

  dispose(): void {
    process.off("SIGINT", this.onSigint);
    this.listeners.clear();
  }
}
