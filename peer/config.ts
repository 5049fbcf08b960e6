import { homedir } from "node:os";
import { join } from "node:path";
import { DEFAULT_TRACKER_URL } from "../common/constants.js";

/** Settings every command and the daemon share: flag first, then environment variable, then default. */

export function defaultDataDir(): string {
  return process.env["P2P_DATA_DIR"] ?? join(homedir(), ".p2p-share");
}

export function defaultTracker(): string {
  return process.env["P2P_TRACKER"] ?? DEFAULT_TRACKER_URL;
}
