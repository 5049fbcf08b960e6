import { homedir } from "node:os";
import { join } from "node:path";

/** Settings every command and the daemon share: flag first, then environment variable, then default. */

export function defaultDataDir(): string {
  return process.env["P2P_DATA_DIR"] ?? join(homedir(), ".p2p-share");
}

/**
 * The mainline DHT's public bootstrap routers, by host name only (their addresses change): what the DHT is
 * joined through unless told others (`--dht-bootstrap`, P2P_DHT_BOOTSTRAP).
 */
export const DEFAULT_DHT_BOOTSTRAP: readonly string[] = ["router.bittorrent.com:6881", "router.utorrent.com:6881", "dht.transmissionbt.com:6881", "dht.libtorrent.org:25401"];
