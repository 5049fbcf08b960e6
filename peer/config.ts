import { homedir } from "node:os";
import { join } from "node:path";
import type { PortMappingChoice } from "./reach/port-mapping.js";

/** Settings every command and the daemon share: flag first, then environment variable, then default. */

export function defaultDataDir(): string {
  return process.env["P2P_DATA_DIR"] ?? join(homedir(), ".p2p-share");
}

/** The web dashboard's loopback port unless told another (`--ui-port`, P2P_UI_PORT). */
export const DEFAULT_UI_PORT = 5002;

/** A download waits this long for a first peer, every source asked again and again (`--wait`). */
export const DEFAULT_WAIT_MS = 20_000;

/** The port-mapping choice from the environment: P2P_PORT_MAPPING=off|auto|upnp|natpmp|pcp; null when unset or unknown. */
export function portMappingFromEnv(raw: string | undefined): PortMappingChoice | null {
  const value = raw?.trim().toLowerCase();
  if (value === undefined || value === "") return null;
  if (value === "off" || value === "0" || value === "false" || value === "no") return "off";
  if (value === "auto" || value === "on" || value === "upnp" || value === "natpmp" || value === "pcp") return value === "on" ? "auto" : value;
  return null;
}

/**
 * The mainline DHT's public bootstrap routers, by host name only (their addresses change): what the DHT is
 * joined through unless told others (`--dht-bootstrap`, P2P_DHT_BOOTSTRAP).
 */
export const DEFAULT_DHT_BOOTSTRAP: readonly string[] = ["router.bittorrent.com:6881", "router.utorrent.com:6881", "dht.transmissionbt.com:6881", "dht.libtorrent.org:25401"];
