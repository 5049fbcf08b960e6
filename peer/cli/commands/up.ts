import type { Command } from "commander";
import { join } from "node:path";
import { startDaemon } from "../../daemon/daemon.js";
import { globals } from "../context.js";
import { startLocalTracker } from "../local-tracker.js";
import { parseFixedPort, parseListenHost } from "../options.js";
import { addServeOptions, serveUntilSignal, type ServeOptions } from "./daemon.js";
import { checkListenAddress } from "../local-addresses.js";
import { trackerReach } from "./tracker.js";

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
    const { dataDir } = globals(command);
    await checkListenAddress(options.trackerHost, "--tracker-host");
    await checkListenAddress(options.host, "--host");
    const reach = trackerReach(options.trackerHost, options.trackerPort, "--tracker-host");
    // `up` runs its own tracker: a --tracker naming another would be silently ignored, so it is said.
    const given = (command.optsWithGlobals<{ tracker?: string[] }>().tracker ?? []).filter((url) => url !== reach.url);
    if (command.parent?.getOptionValueSource("tracker") === "cli" && given.length > 0) {
      process.stderr.write(`p2p: up runs its own tracker; --tracker ${given.join(", ")} is not used\n`);
    }
    const tracker = await startLocalTracker({ host: options.trackerHost, port: options.trackerPort, persistTo: join(dataDir, "tracker"), stdio: "inherit" });
    try {
      const daemon = await startDaemon({ host: options.host, port: options.port, trackers: [reach.url], dataDir, ...(options.announceHost === undefined ? {} : { announceHost: options.announceHost }) });
      process.stderr.write(`p2p: ${reach.note}\n`);
      process.stderr.write(`p2p: tracker at ${reach.url}; daemon on port ${daemon.publicPort} with ${daemon.registry.list().length} shares, announcing to it; Ctrl-C stops both\n`);
      await serveUntilSignal(daemon, stop);
    } finally {
      await tracker.stop();
    }
  });
}
