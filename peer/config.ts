import { homedir } from "node:os";
import { join } from "node:path";

/** Settings every command and the daemon share: flag first, then environment variable, then default. */

export function defaultDataDir(): string {
  return process.env["P2P_DATA_DIR"] ?? join(homedir(), ".p2p-share");
}
