import { constants } from "node:os";

/** Why a serving command stops: a signal to this process, or its caller's AbortSignal. */
export type StopCause = "SIGINT" | "SIGTERM" | "aborted";

/**
 * How a serving command (daemon, tracker, up, a foreground share) learns to stop: SIGINT or SIGTERM, or
 * the AbortSignal of whoever runs the CLI in-process (runCli's `stop`, as the tests do). Leaves no
 * listener behind, so that a process may run many commands in turn.
 */
export function untilStopped(stop?: AbortSignal): Promise<StopCause> {
  return new Promise<StopCause>((resolve) => {
    const done = (cause: StopCause): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      stop?.removeEventListener("abort", onAbort);
      resolve(cause);
    };
    const onSignal = (signal: NodeJS.Signals): void => done(signal === "SIGINT" ? "SIGINT" : "SIGTERM");
    const onAbort = (): void => done("aborted");
    if (stop?.aborted === true) return onAbort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    stop?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Once a signal has begun a stop, the process ends within `deadlineMs` whatever is still open (a request to
 * a tracker that does not answer), and at once on a second SIGINT or SIGTERM: the user asked twice. Only for
 * a process that is ending (the deadline's timer does not itself keep it alive), never for an in-process run.
 */
export function exitWithin(deadlineMs: number, cause: NodeJS.Signals): void {
  const again = (signal: NodeJS.Signals): void => {
    process.stderr.write(`p2p: ${signal} again: exiting now\n`);
    process.exit(128 + constants.signals[signal]);
  };
  process.once("SIGINT", again);
  process.once("SIGTERM", again);
  setTimeout(() => {
    process.stderr.write(`p2p: still stopping after ${deadlineMs / 1000} s: exiting now\n`);
    // By now the command has usually returned and set the exit code; if not, the stop did not finish, and
    // the process ends as the signal would have ended it (130 for SIGINT, 143 for SIGTERM), not as a bug (1).
    process.exit(process.exitCode ?? 128 + constants.signals[cause]);
  }, deadlineMs).unref();
}
