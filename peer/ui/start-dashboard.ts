import type { ControlHandlers } from "../daemon/control-server.js";
import type { FeedSource } from "./feed.js";
import { loadUiSecret } from "./ui-secret.js";
import { startUiServer, type UiServer } from "./ui-server.js";

/** The dashboard listens on IPv4 loopback only: never on the public port's address, never on the network. */
export const UI_HOST = "127.0.0.1";

/**
 * Starts the daemon's dashboard. A port already taken (another user's daemon on this machine, or a second
 * data dir of one's own) costs the dashboard, not the daemon: one line in its log, and it runs without.
 */
export async function startDashboard(
  settings: { port: number; allowHosts: readonly string[] },
  dataDir: string,
  handlers: ControlHandlers,
  feed: Omit<FeedSource, "status" | "listShares" | "listDownloads">,
  link: (sha1: string) => string | undefined,
  log: (line: string) => void,
): Promise<UiServer | null> {
  const secret = await loadUiSecret(dataDir);
  try {
    return await startUiServer({ host: UI_HOST, port: settings.port, secret, allowHosts: settings.allowHosts, handlers, feed, link });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EADDRINUSE" && code !== "EACCES") throw error;
    log(`dashboard off: port ${settings.port} on ${UI_HOST} is ${code === "EADDRINUSE" ? "in use" : "not allowed"} (pass --ui-port, or --no-ui)`);
    return null;
  }
}
