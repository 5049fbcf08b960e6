import type { Command } from "commander";
import { DEFAULT_PEER_PORT } from "../../../common/constants.js";
import { startDaemon, type RunningDaemon } from "../../daemon/daemon.js";
import { globals } from "../context.js";
import { parsePort } from "../options.js";

export interface ServeOptions {
  host: string;
  port: number;
  announceHost?: string;
}

export function addServeOptions(command: Command): Command {
  return command
    .option("--host <address>", "address the public port listens on (env P2P_HOST)", process.env["P2P_HOST"] ?? "0.0.0.0")
    .option("--port <port>", "public port for chunks (env P2P_PORT)", parsePort, Number(process.env["P2P_PORT"] ?? DEFAULT_PEER_PORT))
    .option("--announce-host <address>", "address to give the tracker where it must differ from the connection's (LAN, tests)");
}

/** Runs until SIGINT or SIGTERM, then tells the tracker `stopped` and exits 0. */
export async function serveUntilSignal(daemon: RunningDaemon): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.stderr.write("p2p: stopping (telling the tracker)...\n");
      void daemon.close().then(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

export function registerDaemon(program: Command): void {
  addServeOptions(program.command("daemon").description("run the peer daemon: serve shares, announce them, run downloads for the CLI")).action(
    async (options: ServeOptions, command: Command) => {
      const { tracker, dataDir } = globals(command);
      const daemon = await startDaemon({ host: options.host, port: options.port, tracker, dataDir, ...(options.announceHost === undefined ? {} : { announceHost: options.announceHost }) });
      process.stderr.write(`p2p: daemon ready: public port ${options.host}:${daemon.publicPort}, ${daemon.registry.list().length} shares, tracker ${tracker}, data ${dataDir}\n`);
      await serveUntilSignal(daemon);
    },
  );
}
