import type { Command } from "commander";
import { join, resolve } from "node:path";
import { defaultDataDir } from "../../config.js";
import { Errors } from "../../errors.js";
import { checkListenAddress, trackerReach } from "../local-addresses.js";
import { parseFixedPort, parseListenHost, parseTrackerVar } from "../options.js";
import { untilStopped } from "../stop.js";

export function registerTracker(program: Command, stop?: AbortSignal): void {
  program
    .command("tracker")
    .description("run the tracker locally (wrangler dev, workerd); its state survives restarts")
    .option("--host <address>", "address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 (all), or one of this machine's", parseListenHost, "127.0.0.1")
    .option("--port <port>", "port to listen on", parseFixedPort, 8787)
    .option("--persist-to <dir>", "folder for the tracker's state (default: <data-dir>/tracker)")
    .option("--var <key=value...>", "override a wrangler.toml [vars] entry, e.g. --var ANNOUNCE_INTERVAL_SECONDS=10", parseTrackerVar)
    .action(async (options: { host: string; port: number; persistTo?: string; var?: Record<string, string> }, command: Command) => {
      const globals = command.optsWithGlobals<{ dataDir?: string }>();
      // Absolute, so that a folder named like an option ("--x") cannot reach wrangler as one.
      const persistTo = resolve(options.persistTo ?? join(globals.dataDir ?? defaultDataDir(), "tracker"));
      await checkListenAddress(options.host, "--host");
      const { startLocalTracker } = await import("../local-tracker.js");
      const tracker = await startLocalTracker({ host: options.host, port: options.port, persistTo, vars: options.var ?? {}, stdio: "inherit" });
      const reach = trackerReach(options.host, options.port, "--host");
      process.stderr.write(`p2p: ${reach.note}\n`);
      // A daemon here that dials 127.0.0.1 is recorded as 127.0.0.1, which sends other machines to themselves.
      if (reach.outward) process.stderr.write(`p2p: daemons on this machine: p2p --tracker ${reach.url} daemon, so that the tracker records an address others can reach\n`);
      process.stderr.write(`p2p: tracker ready at ${reach.outward ? reach.url : tracker.url} (state in ${persistTo}); Ctrl-C stops it\n`);
      const exited = new Promise<string>((done) => tracker.process.once("exit", (code, signal) => done(signal ?? `code ${code}`)));
      const ended = await Promise.race([untilStopped(stop).then(() => null), exited]);
      if (ended === null) {
        await tracker.stop("SIGTERM");
        return;
      }
      throw Errors.trackerFailed(`the tracker (wrangler dev) exited by itself (${ended})`, "its output above says why; start it again with p2p tracker");
    });
}
