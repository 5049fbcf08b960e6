import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { normalizeSha1 } from "../../common/ids.js";
import { controlRoute, type ControlHandlers } from "../daemon/control-server.js";
import { HttpError, sendError, sendJson } from "../server/http-reply.js";
import { Feed, type FeedSource } from "./feed.js";
import { csrfToken, forgeryCheck, hasSession, hostAllowed, isSecret, sessionCookie, type GuardSettings } from "./guard.js";
import { qrSvg } from "./qr-svg.js";
import { loadStaticFiles } from "./static-files.js";

/**
 * The dashboard: the page, its live feed, and the daemon's control API (the same routes and handlers as the
 * control socket: control-server.ts) on a loopback port, behind its own checks (guard.ts). Routes are in
 * docs/protocol.md.
 */

export interface UiOptions {
  host: string;
  port: number;
  secret: string;
  allowHosts: readonly string[];
  handlers: ControlHandlers;
  feed: Omit<FeedSource, "status" | "listShares" | "listDownloads">;
  /** The share link of a file shared here, for its QR code; undefined when not shared. */
  link(sha1: string): string | undefined;
}

export interface UiServer {
  port: number;
  close(): void;
}

/** Sent with every answer: nothing but this origin's own files runs, nothing frames the page. */
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

function page(res: ServerResponse, status: number, title: string, text: string): void {
  const body = Buffer.from(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${text}</p></html>\n`);
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8", "Content-Length": body.length });
  res.end(body);
}

/** Where the page proposes to download into: ~/Downloads when there is one, else the home folder. */
function downloadDir(): string {
  const downloads = join(homedir(), "Downloads");
  return existsSync(downloads) ? downloads : homedir();
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startUiServer(options: UiOptions): Promise<UiServer> {
  const files = await loadStaticFiles();
  const settings: GuardSettings = { secret: options.secret, port: options.port, allowHosts: options.allowHosts.map((h) => h.toLowerCase()) };
  const feed = new Feed({ ...options.feed, status: () => options.handlers.status(), listShares: () => options.handlers.listShares(), listDownloads: () => options.handlers.listDownloads() });

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (!hostAllowed(req.headers.host, settings.allowHosts)) {
      // DNS rebinding: a page on another domain that resolves to this machine. Nothing of the daemon is shown.
      const named = escapeHtml(String(req.headers.host ?? "(none)").slice(0, 200));
      return page(res, 403, "Host not allowed", `This dashboard answers only to loopback names (localhost, 127.0.0.1, [::1]); the request named <code>${named}</code>. To reach it by another name, start the daemon with <code>--ui-allow-host NAME</code> (env P2P_UI_ALLOW_HOST).`);
    }
    // The path as sent, not resolved: `//app.js` or `/a/../app.js` are not names in the static set.
    const [path = "/", query = ""] = (req.url ?? "/").split("?", 2);
    const method = req.method ?? "GET";
    const reading = method === "GET" || method === "HEAD";
    const file = files.get(path);
    if (file !== undefined && reading) {
      res.writeHead(200, { "Content-Type": file.type, "Content-Length": file.body.length });
      res.end(method === "HEAD" ? undefined : file.body);
      return;
    }
    if (path === "/login" && method === "GET") {
      // The URL `p2p ui` prints: the secret becomes the cookie, and the address bar loses it at once.
      const token = new URLSearchParams(query).get("token") ?? "";
      if (!isSecret(token, settings)) return page(res, 403, "Wrong or old link", "Run <code>p2p ui</code> again and open the URL it prints.");
      res.writeHead(303, { Location: "/", "Set-Cookie": sessionCookie(settings), "Content-Length": 0 });
      res.end();
      return;
    }
    if (!hasSession(req, settings)) throw new HttpError(401, "no_session", "not signed in: open the URL `p2p ui` prints");
    if (!reading) {
      const refused = forgeryCheck(req, settings);
      if (refused !== null) throw new HttpError(403, "forbidden", refused);
    }
    if (path === "/ui/session" && method === "GET") return sendJson(res, 200, { csrf: csrfToken(settings.secret), downloadDir: downloadDir() });
    if (path === "/ui/events" && method === "GET") return feed.open(res, {});
    const qr = /^\/ui\/qr\/([0-9a-fA-F]{40})\.svg$/.exec(path);
    if (qr !== null && method === "GET") {
      const link = options.link(normalizeSha1(qr[1]) ?? "");
      if (link === undefined) throw new HttpError(404, "not_shared", "not shared here");
      const svg = qrSvg(link);
      if (svg === null) throw new HttpError(404, "link_too_long_for_qr", "the link is too long for a QR code");
      const body = Buffer.from(svg);
      res.writeHead(200, { "Content-Type": "image/svg+xml", "Content-Length": body.length });
      res.end(body);
      return;
    }
    if (path.startsWith("/v1/")) {
      // An attached download streams until it ends; the page asks for detached ones only.
      return controlRoute(req, res, options.handlers);
    }
    throw new HttpError(404, "not_found", "no such page");
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => sendError(res, error));
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 64;
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : options.port);
    });
  });
  settings.port = port;
  return {
    port,
    close: () => {
      feed.close();
      server.close();
      server.closeAllConnections();
    },
  };
}
