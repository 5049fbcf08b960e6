import { runCli } from "./program.js";

// A reader that goes away (`p2p status | head -2`) is not a failure: the rest of the output is simply not
// wanted, and the command goes on to its end as it would have (a daemon keeps serving, and stops cleanly).
// Without this, the next write throws EPIPE as an uncaught error with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    stream.write = () => true;
  });
}

process.exitCode = await runCli(process.argv);
