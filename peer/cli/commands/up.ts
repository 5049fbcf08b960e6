import type { Command } from "commander";
import { join, resolve } from "node:path";
import { parseFixedPort, parseListenHost } from "../options.js";
import { addServeOptions, daemonSettings, serveUntilSignal, STOP_DEADLINE_MS, type ServeOptions } from "./daemon.js";
import { checkListenAddress, trackerReach } from "../local-addresses.js";

interface UpOptions extends ServeOptions {
  trackerHost: string;
  trackerPort: number;
}

/**
 * `npm start`: the local tracker and a peer daemon pointed at it, together, until Ctrl-C. The daemon dials
 * the tracker at an address other machines can reach (trackerReach), never at 127.0.0.1 when the tracker
 * serves others: the tracker records the address a connection comes from, and would send them to themselves.
 */
export function registerUp(program: Command, stop?: AbortSignal): void {
  addServeOptions(
    program
      .command("up")
      .description("run the local tracker and a peer daemon together; Ctrl-C stops both")
      .option("--tracker-host <address>", "address the tracker listens on: 127.0.0.1 (this machine only), 0.0.0.0 (every address), or one of this machine's", parseListenHost, "127.0.0.1")
      .option("--tracker-port <port>", "port the tracker listens on", parseFixedPort, 8787),
  ).action(async (options: UpOptions, command: Command) => {
    // Not globals(): up ignores the tracker setting, so a malformed P2P_TRACKER must not stop it.
    const dataDir = resolve(command.optsWithGlobals<{ dataDir: string }>().dataDir);
    await checkListenAddress(options.trackerHost, "--tracker-host");
    await checkListenAddress(options.host, "--host");
    const reach = trackerReach(options.trackerHost, options.trackerPort, "--tracker-host");
    // `up` runs its own tracker: a --tracker naming another would be silently ignored, so it is said.
    const given = (command.optsWithGlobals<{ tracker?: string[] }>().tracker ?? []).filter((url) => url !== reach.url);
    const setting = command.parent?.getOptionValueSource("tracker") === "cli" ? "--tracker" : process.env["P2P_TRACKER"] !== undefined ? "P2P_TRACKER" : null;
    if (setting !== null && given.length > 0) process.stderr.write(`p2p: up runs its own tracker; ${setting} ${given.join(", ")} is not used\n`);
    const { startLocalTracker } = await import("../local-tracker.js");
    const tracker = await startLocalTracker({ host: options.trackerHost, port: options.trackerPort, persistTo: join(dataDir, "tracker"), stdio: "inherit" });
    try {
      const { startDaemon } = await import("../../daemon/daemon.js");
      const daemon = await startDaemon({ ...daemonSettings(options), trackers: [reach.url], dataDir });
      process.stderr.write(`p2p: ${reach.note}\n`);
      process.stderr.write(`p2p: tracker at ${reach.url}; daemon on port ${daemon.publicPort} with ${daemon.registry.list().length} shares, announcing to it; Ctrl-C stops both\n`);
      // The deadline covers the tracker's stop after the daemon's (the guard gives wrangler up to 5 s).
      await serveUntilSignal(daemon, stop, STOP_DEADLINE_MS + 5000);
    } finally {
      await tracker.stop();
    }
  });
}
