import { Errors, P2PError } from "../errors.js";

/**
 * Ctrl-C during `p2p download`. Before the download's finishing step it stops the download, which keeps
 * its verified chunks, and the CLI says so and exits 130 (128 + SIGINT, what a shell reports for Ctrl-C).
 * Once the finishing step has begun (every chunk verified and written), the download completes and the
 * CLI prints its path and exits 0: stopping it then would save nothing. Either way a second Ctrl-C ends the
 * process at once, which the state on disk survives as it survives kill -9 (finish.ts).
 *
 * The listener stays until the process exits (a signal listener does not keep it alive): a Ctrl-C that
 * lands once the download has ended, as the CLI prints its result or exits, changes nothing, where the
 * default handler would kill the process and hide the result it had just printed.
 */

export class DownloadInterrupt {
  private readonly controller = new AbortController();
  private finishing = false;
  private readonly onSigint = (): void => {
    process.off("SIGINT", this.onSigint);
    if (this.finishing) return;
    this.controller.abort();
  };

  constructor() {
    process.on("SIGINT", this.onSigint);
  }

  /** Aborts on Ctrl-C before the finishing step. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The download reported its finishing step, or has ended: Ctrl-C no longer stops it. */
  finishingBegun(): void {
    this.finishing = true;
  }

  /**
   * The error to report: the end that Ctrl-C caused (the download's cancel, or the control connection to
   * the daemon closed under it) is an interruption; anything else is itself.
   */
  explain(error: unknown): unknown {
    const causedByInterrupt = error instanceof P2PError && (error.code === "CANCELLED" || error.code === "DAEMON_UNREACHABLE");
    return this.signal.aborted && causedByInterrupt ? Errors.interrupted("download interrupted: run the same command again to resume it (verified chunks are kept)") : error;
  }
}
