import { InvalidArgumentError } from "commander";
import { isIP } from "node:net";
import { TRACKER_VARS } from "../../common/constants.js";
import { normalizeSha1 } from "../../common/ids.js";
import { Errors, P2PError } from "../errors.js";
import { parseRate } from "../net/rate.js";
import { parsePeerAddress, PEER_HINT, type PeerEndpoint } from "../sources/peer-address.js";
import { trackerUrlOrNull } from "../tracker-client/tracker-url.js";

/** Parsers for commander options: bad values become commander's usage errors (exit 2 via main.ts). */

export function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError("a port is 0-65535");
  return port;
}

/** A port others must be told in advance (the tracker's): 1-65535. */
export function parseFixedPort(raw: string): number {
  const port = parsePort(raw);
  if (port === 0) throw new InvalidArgumentError("a port is 1-65535 here: clients must know it");
  return port;
}

/** An address to listen on: an IP literal (0.0.0.0, ::, 127.0.0.2); `localhost` means 127.0.0.1. No name is looked up. */
export function parseListenHost(raw: string): string {
  if (raw === "localhost") return "127.0.0.1";
  if (isIP(raw) !== 0) return raw;
  throw new InvalidArgumentError("an IP address such as 0.0.0.0, 127.0.0.1 or ::");
}

/** An address of this machine to give the tracker and to send from: an IP literal. */
export function parseIp(raw: string): string {
  if (isIP(raw) !== 0) return raw;
  throw new InvalidArgumentError("an IP address such as 192.168.1.20");
}

/** One `--var KEY=value`: KEY must be one of the tracker's settings. Collects them into one object. */
export function parseTrackerVar(raw: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([A-Z_]+)=(.*)$/s.exec(raw);
  const name = match?.[1] ?? "";
  if (match === null || !(TRACKER_VARS as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`KEY=value, KEY one of ${TRACKER_VARS.join(", ")}`);
  }
  return { ...previous, [name]: match[2] ?? "" };
}

export function parsePositiveInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError("must be a whole number of 1 or more");
  return value;
}

/** A file's SHA-1 given as a command's argument, in lowercase; INVALID_HASH (exit 2) otherwise, with `hint`. */
export function sha1Argument(raw: string, hint?: string): string {
  const sha1 = normalizeSha1(raw.trim());
  if (sha1 === null) throw Errors.invalidHash(`${JSON.stringify(raw)} is not a SHA-1`, hint);
  return sha1;
}

/** A duration in whole or fractional seconds, 0-3600 (`--wait 30`). */
export function parseSeconds(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0 || value > 3600) throw new InvalidArgumentError("a number of seconds, 0-3600");
  return value;
}

/** A transfer limit (`--max-upload-rate 2M`): bytes per second, 0 for none (net/rate.ts). */
export function parseRateOption(raw: string): number {
  try {
    return parseRate(raw);
  } catch (error) {
    if (error instanceof P2PError) throw new InvalidArgumentError(`${error.message}; ${error.hint ?? ""}`);
    throw error;
  }
}

/** One `--peer IP:port` (`[v6]:port`), collected in order. */
export function collectPeer(raw: string, previous: PeerEndpoint[] = []): PeerEndpoint[] {
  const peer = parsePeerAddress(raw);
  if (peer === null) throw new InvalidArgumentError(PEER_HINT);
  return [...previous, peer];
}

/** Collects a repeated option's values in order (commander calls it once per occurrence). */
export function collect(raw: string, previous: string[] = []): string[] {
  return [...previous, raw];
}

/** P2P_TRACKER's list: comma-separated URLs; blanks around and between commas are ignored. */
export function splitTrackerList(raw: string): string[] {
  return raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

/**
 * The trackers to use, each its own tier (docs/architecture.md): every value checked as one tracker URL,
 * duplicates (after normalising) dropped, order kept. Returns the first bad value instead, so that the caller
 * can name it and where it came from.
 */
export function trackerUrls(raws: readonly string[]): { urls: string[] } | { bad: string } {
  const urls: string[] = [];
  for (const raw of raws) {
    const url = trackerUrlOrNull(raw);
    if (url === null) return { bad: raw };
    if (!urls.includes(url)) urls.push(url);
  }
  return urls.length === 0 ? { bad: "" } : { urls };
}
