import type { Command } from "commander";
import { DEFAULT_PEER_PORT } from "../../../common/constants.js";
import { hostPort } from "../../../common/ip.js";
import type { RelaySettings, RunningDaemon } from "../../daemon/daemon.js";
import { globals } from "../context.js";
import { checkListenAddress } from "../local-addresses.js";
import { parseIp, parseListenHost, parsePort, parsePositiveInt, parseRateOption } from "../options.js";
import { exitWithin, untilStopped } from "../stop.js";
import { addDiscoveryOptions, discoverySettings, type DiscoveryFlags } from "../discovery-options.js";
import type { DiscoverySettings } from "../../discovery/discovery.js";
import { addUiOptions, uiSettings, type UiFlags } from "../ui-options.js";
import type { PortMappingChoice } from "../../reach/port-mapping.js";
import { portMappingFromEnv } from "../../config.js";
import { Errors } from "../../errors.js";

/**
 * Port mapping from the flag, then P2P_PORT_MAPPING (off, auto, upnp, natpmp, pcp), then on (auto).
 * P2P_PORT_MAPPING_LEASE asks for a lease of that many seconds (tests; routers may grant another).
 */
export function portMappingSettings(flag: boolean): { choice: PortMappingChoice; lifetimeSeconds?: number } {
  const raw = process.env["P2P_PORT_MAPPING"];
  const fromEnv = portMappingFromEnv(raw);
  if (raw !== undefined && raw.trim() !== "" && fromEnv === null) {
    throw Errors.usage(`P2P_PORT_MAPPING=${JSON.stringify(raw)} is not a choice`, "give off, auto, upnp, natpmp or pcp");
  }
  const choice = !flag ? "off" : (fromEnv ?? "auto");
  const lease = Number(process.env["P2P_PORT_MAPPING_LEASE"]);
  return { choice, ...(Number.isSafeInteger(lease) && lease > 0 ? { lifetimeSeconds: lease } : {}) };
}

export interface ServeOptions extends DiscoveryFlags, UiFlags {
  host: string;
  port: number;
  announceHost?: string;
  maxUploadRate?: number;
  maxDownloadRate?: number;
  uploadSlots: number;
  /** false with --no-port-mapping. */
  portMapping: boolean;
  /** `--relay` and its caps. */
  relay?: boolean;
  relayPairs: number;
  relayPairMb: number;
  relayPairSeconds: number;
}



const RATE_HELP = "bytes per second: 500k, 2M, 1.5M (k = 1024, M = 1024²), 1048576, or 0 / unlimited; change it while running with `p2p limits`";

/** The daemon options that come from serve options as given (the limits only when set). */
export function daemonSettings(options: ServeOptions): {
  host: string;
  port: number;
  uploadSlots: number;
  discovery: DiscoverySettings;
  portMapping: { choice: PortMappingChoice; lifetimeSeconds?: number };
  announceHost?: string;
  maxUploadRate?: number;
  maxDownloadRate?: number;
  ui?: { port: number; allowHosts: string[] };
  relay: RelaySettings | null;
} {
  const { host, port, uploadSlots, announceHost, maxUploadRate, maxDownloadRate } = options;
  const ui = uiSettings(options);
  return {
    ...(ui === undefined ? {} : { ui }),
    host,
    port,
    uploadSlots,
    discovery: discoverySettings(options),
    portMapping: portMappingSettings(options.portMapping),
    relay: options.relay === true ? { maxPairs: options.relayPairs, maxBytesPerPair: options.relayPairMb * 1024 * 1024, maxSecondsPerPair: options.relayPairSeconds } : null,
    ...(announceHost === undefined ? {} : { announceHost }),
    ...(maxUploadRate === undefined ? {} : { maxUploadRate }),
    ...(maxDownloadRate === undefined ? {} : { maxDownloadRate }),
  };
}

export function addServeOptions(command: Command): Command {
  return addUiOptions(addDiscoveryOptions(command))
    .option("--host <address>", "address the public port listens on: :: (default) both IPv4 and IPv6, 0.0.0.0 IPv4 only, or one address (env P2P_HOST)", parseListenHost, process.env["P2P_HOST"] ?? "::")
    .option("--port <port>", "public port for chunks (env P2P_PORT)", parsePort, Number(process.env["P2P_PORT"] ?? DEFAULT_PEER_PORT))
    .option("--no-port-mapping", "do not ask the home router (UPnP IGD, NAT-PMP, PCP) to forward the public port (env P2P_PORT_MAPPING=off)")
    .option("--announce-host <address>", "address to give the tracker where it must differ from the connection's (LAN, tests)", parseIp)
    .option("--max-upload-rate <rate>", `limit on everything the public port sends, ${RATE_HELP}`, parseRateOption)
    .option("--max-download-rate <rate>", `limit on what the daemon's downloads read, ${RATE_HELP}`, parseRateOption)
    .option("--upload-slots <n>", "peers sent file data at once; the rest are told to ask again (503, Retry-After)", parsePositiveInt, 8)
    .option("--relay", "also relay for peers that cannot reach each other: peer traffic only, within the caps below; offered to the trackers once they reach this daemon")
    .option("--relay-pairs <n>", "relayed pairs at once", parsePositiveInt, 32)
    .option("--relay-pair-mb <n>", "MiB one relayed pair may carry before it is closed", parsePositiveInt, 1024)
    .option("--relay-pair-seconds <n>", "seconds one relayed pair may last", parsePositiveInt, 600);
}

/** A stop's own limits (downloads 2 s, `stopped` 2 s) keep it shorter; this bounds whatever else is open. */
export const STOP_DEADLINE_MS = 5000;

/**
 * Runs until SIGINT, SIGTERM or `stop`, then tells the tracker `stopped` and returns (exit 0). Stopped by a
 * signal, the process exits within `deadlineMs` (what the caller still does after this returns included),
 * at once on a second signal.
 */
export async function serveUntilSignal(daemon: RunningDaemon, stop?: AbortSignal, deadlineMs = STOP_DEADLINE_MS): Promise<void> {
  const cause = await untilStopped(stop);
  process.stderr.write("p2p: stopping (telling the tracker)...\n");
  if (cause !== "aborted") exitWithin(deadlineMs, cause);
  await daemon.close();
}

export function registerDaemon(program: Command, stop?: AbortSignal): void {
  addServeOptions(program.command("daemon").description("run the peer daemon: serve shares, announce them, run downloads for the CLI")).action(
    async (options: ServeOptions, command: Command) => {
      const { trackers, dataDir } = globals(command);
      await checkListenAddress(options.host, "--host");
      const { startDaemon } = await import("../../daemon/daemon.js");
      const daemon = await startDaemon({ ...daemonSettings(options), trackers, dataDir });
      process.stderr.write(`p2p: daemon ready: public port ${hostPort(daemon.publicHost, daemon.publicPort)}, ${daemon.registry.list().length} shares, ${trackers.length === 1 ? "tracker" : "trackers"} ${trackers.join(", ")}, data ${dataDir}${daemon.uiPort === null ? "" : `, dashboard http://127.0.0.1:${daemon.uiPort}/ (p2p ui)`}\n`);
      await serveUntilSignal(daemon, stop);
    },
  );
}
