import { InvalidArgumentError, type Command } from "commander";
import { DEFAULT_DHT_BOOTSTRAP } from "../config.js";
import type { DiscoverySettings } from "../discovery/discovery.js";
import { Errors } from "../errors.js";
import { parsePort } from "./options.js";

/**
 * The discovery options `daemon`, `up`, `share` and `download` take: the DHT (`--no-dht`, `--dht-port`,
 * `--dht-bootstrap`) and LAN discovery (`--no-lan-discovery`). Each has an environment variable, so that a
 * whole test run or a machine without internet can turn them off or point them at local nodes at once.
 */
export interface DiscoveryFlags {
  dht: boolean;
  dhtPort?: number;
  dhtBootstrap?: string[];
  lanDiscovery: boolean;
}

export function addDiscoveryOptions(command: Command): Command {
  return command
    .option("--no-dht", "do not join the DHT (env P2P_DHT=off)")
    .option("--dht-port <port>", "UDP port of the DHT (default: the public port's number)", parsePort)
    .option(
      "--dht-bootstrap <host:port>",
      `a DHT node to join through; repeat for several (env P2P_DHT_BOOTSTRAP, comma-separated; default ${DEFAULT_DHT_BOOTSTRAP.join(", ")})`,
      (raw: string, previous: string[] = []) => [...previous, parseBootstrapNode(raw)],
    )
    .option("--no-lan-discovery", "do not find peers on the local network by multicast (env P2P_LAN_DISCOVERY=off)");
}

/** One bootstrap node: `host:port` or `[v6]:port`, the host a name or an address. Null if malformed. */
export function bootstrapNodeOrNull(raw: string): string | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw.trim());
  if (match === null) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return null;
  return `${match[1]!}:${port}`;
}

function offByEnv(name: string): boolean {
  const value = process.env[name]?.trim().toLowerCase();
  return value === "off" || value === "0" || value === "false" || value === "no";
}

/** The settings from the flags, then the environment, then the defaults. */
export function discoverySettings(flags: DiscoveryFlags): DiscoverySettings {
  const envList = process.env["P2P_DHT_BOOTSTRAP"];
  const [raws, from] =
    flags.dhtBootstrap !== undefined
      ? [flags.dhtBootstrap, "--dht-bootstrap"]
      : envList !== undefined
        ? [envList.split(",").filter((part) => part.trim() !== ""), "P2P_DHT_BOOTSTRAP"]
        : [DEFAULT_DHT_BOOTSTRAP, "the default"];
  const bootstrap: string[] = [];
  for (const raw of raws) {
    const node = bootstrapNodeOrNull(raw);
    if (node === null) throw Errors.usage(`${from} ${JSON.stringify(raw)} is not a DHT node`, "give host:port, e.g. 10.0.0.5:6881 or [2001:db8::1]:6881");
    if (!bootstrap.includes(node)) bootstrap.push(node);
  }
  const dhtOn = flags.dht && !offByEnv("P2P_DHT");
  return {
    dht: dhtOn ? { port: flags.dhtPort ?? null, bootstrap } : null,
    lan: flags.lanDiscovery && !offByEnv("P2P_LAN_DISCOVERY"),
  };
}

/** For commander's parsers: a bad node is a usage error at once. */
export function parseBootstrapNode(raw: string): string {
  const node = bootstrapNodeOrNull(raw);
  if (node === null) throw new InvalidArgumentError("host:port, e.g. 10.0.0.5:6881");
  return node;
}
