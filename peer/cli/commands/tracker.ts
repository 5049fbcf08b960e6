import type { Command } from "commander";
import { join, resolve } from "node:path";
import { startLocalTracker } from "../local-tracker.js";
import { defaultDataDir } from "../../config.js";
import { Errors } from "../../errors.js";
import { parseFixedPort, parseListenHost, parseTrackerVar } from "../options.js";
import { untilStopped } from "../stop.js";

export function registerTracker(program: Command, stop?: AbortSignal): void {
  program
    .command("tracker")
    .description("run the tracker locally (wrangler dev, workerd); its state survives restarts")
    .option("--host <address>", "address to listen on", parseListenHost, "127.0.0.1")
    .option("--port <port>", "port to listen on", parseFixedPort, 8787)
    .option("--persist-to <dir>", "folder for the tracker's state (default: <data-dir>/tracker)")
    .option("--var <key=value...>", "override a wrangler.toml [vars] entry, e.g. --var ANNOUNCE_INTERVAL_SECONDS=10", parseTrackerVar)
    .action(async (options: { host: string; port: number; persistTo?: string; var?: Record<string, string> }, command: Command) => {
      const globals = command.optsWithGlobals<{ dataDir?: string }>();
      // Absolute, so that a folder named like an option ("--x") cannot reach wrangler as one.
      const persistTo = resolve(options.persistTo ?? join(globals.dataDir ?? defaultDataDir(), "tracker"));
      const tracker = await startLocalTracker({ host: options.host, port: options.port, persistTo, vars: options.var ?? {}, stdio: "inherit" });
      process.stderr.write(`p2p: tracker ready at ${tracker.url} (state in ${persistTo}); Ctrl-C stops it\n`);
      const exited = new Promise<string>((done) => tracker.process.once("exit", (code, signal) => done(signal ?? `code ${code}`)));
      const ended = await Promise.race([untilStopped(stop).then(() => null), exited]);
      if (ended === null) {
        await tracker.stop("SIGTERM");
        return;
      }
      throw Errors.trackerFailed(`the tracker (wrangler dev) exited by itself (${ended})`, "its output above says why; start it again with p2p tracker");
    });
}
