import { InvalidArgumentError, type Command } from "commander";
import { DEFAULT_UI_PORT } from "../config.js";
import { parsePort } from "./options.js";

/**
 * The dashboard's options on every command that runs a daemon: `--ui-port` (env P2P_UI_PORT), `--no-ui`
 * (env P2P_UI=off) and `--ui-allow-host` (env P2P_UI_ALLOW_HOST, comma-separated).
 */
export interface UiFlags {
  ui: boolean;
  uiPort?: number;
  uiAllowHost?: string[];
}

/** A Host name the dashboard should answer to besides loopback ones: a DNS name or an IP literal, no port. */
export function parseAllowHost(raw: string, previous: string[] = []): string[] {
  const host = raw.trim().toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(host)) throw new InvalidArgumentError("a host name such as p2p.home.arpa, or an address ([v6] in brackets), without a port");
  return [...previous, host];
}

export function addUiOptions(command: Command): Command {
  return command
    .option("--ui-port <port>", `loopback port of the web dashboard (env P2P_UI_PORT; default ${DEFAULT_UI_PORT}; 0: any free port)`, parsePort)
    .option("--no-ui", "no web dashboard: no port besides the public one (env P2P_UI=off)")
    .option("--ui-allow-host <name>", "a Host name the dashboard answers to besides localhost and loopback addresses; repeat for several (env P2P_UI_ALLOW_HOST)", parseAllowHost);
}

function offByEnv(name: string): boolean {
  const value = process.env[name]?.trim().toLowerCase();
  return value === "off" || value === "0" || value === "false" || value === "no";
}

/**
 * The dashboard's settings, or undefined for none: the flags, then the environment, then the defaults. A
 * `--ui-port` on the command line turns it on even where P2P_UI=off (a test run's default).
 */
export function uiSettings(flags: UiFlags): { port: number; allowHosts: string[] } | undefined {
  if (!flags.ui || (flags.uiPort === undefined && offByEnv("P2P_UI"))) return undefined;
  const envPort = process.env["P2P_UI_PORT"];
  const port = flags.uiPort ?? (envPort === undefined || envPort.trim() === "" ? DEFAULT_UI_PORT : parsePort(envPort.trim()));
  const allowHosts = flags.uiAllowHost ?? (process.env["P2P_UI_ALLOW_HOST"] ?? "").split(",").filter((h) => h.trim() !== "").reduce<string[]>((list, raw) => parseAllowHost(raw, list), []);
  return { port, allowHosts };
}
