import type { Command } from "commander";
import { join } from "node:path";
import { startDaemon } from "../../daemon/daemon.js";
import { globals } from "../context.js";
import { startLocalTracker } from "../local-tracker.js";
import { addServeOptions, serveUntilSignal, type ServeOptions } from "./daemon.js";

/** `npm start`: the local tracker and a peer daemon pointed at it, together, until Ctrl-C. */
export function registerUp(program: Command, stop?: AbortSignal): void {
  addServeOptions(program.command("up").description("run the local tracker (127.0.0.1:8787) and a peer daemon together; Ctrl-C stops both")).action(
    async (options: ServeOptions, command: Command) => {
      const { dataDir } = globals(command);
      const tracker = await startLocalTracker({ host: "127.0.0.1", port: 8787, persistTo: join(dataDir, "tracker"), stdio: "inherit" });
      try {
        const daemon = await startDaemon({ host: options.host, port: options.port, tracker: tracker.url, dataDir, ...(options.announceHost === undefined ? {} : { announceHost: options.announceHost }) });
        process.stderr.write(`p2p: tracker at ${tracker.url}; daemon on port ${daemon.publicPort} with ${daemon.registry.list().length} shares; Ctrl-C stops both\n`);
        await serveUntilSignal(daemon, stop);
      } finally {
        await tracker.stop();
      }
    },
  );
}
