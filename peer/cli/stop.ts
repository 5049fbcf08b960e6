/**
 * How a serving command (daemon, tracker, up, a foreground share) learns to stop: SIGINT or SIGTERM, or
 * the AbortSignal of whoever runs the CLI in-process (runCli's `stop`, as the tests do). Leaves no
 * listener behind, so that a process may run many commands in turn.
 */
export function untilStopped(stop?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    if (stop?.aborted === true) return done();
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
    stop?.addEventListener("abort", done, { once: true });
  });
}
