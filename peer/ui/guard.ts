import { createHmac, timingSafeEqual } from "node:crypto";
import { isIPv4 } from "node:net";
import type { IncomingMessage } from "node:http";

/**
 * The dashboard's checks, before any route: pure functions of the request's headers, so that they are tested
 * on their own (test/unit/ui-guard.test.ts) and fuzzed through the real port.
 *
 * - Host: only loopback names and addresses (and what `--ui-allow-host` adds), so that a web page whose
 *   domain resolves to 127.0.0.1 (DNS rebinding) cannot read or steer the dashboard.
 * - The session: a cookie holding the secret (httpOnly, SameSite=Strict); every API route needs it.
 * - Forgery: a request that changes anything also needs the `X-P2P-CSRF` header the page got from
 *   `GET /ui/session` (another site's form cannot set a header; its script cannot read the token), and an
 *   Origin, when the browser sends one, equal to the dashboard's own.
 */

export interface GuardSettings {
  secret: string;
  /** The port the dashboard listens on: it names its cookie (cookies are not kept apart by port). */
  port: number;
  /** Host names or addresses allowed besides loopback ones (`--ui-allow-host`), lowercase, no port. */
  allowHosts: readonly string[];
}

export const CSRF_HEADER = "x-p2p-csrf";

export function cookieName(port: number): string {
  return `p2p_ui_${port}`;
}

/** The host part of a Host header (`name`, `name:port`, `[v6]:port`), lowercase; null when malformed. */
export function hostOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(header.trim());
  return match === null ? null : match[1]!.toLowerCase();
}

export function hostAllowed(header: string | undefined, allowHosts: readonly string[]): boolean {
  const host = hostOf(header);
  if (host === null) return false;
  if (host === "localhost" || host === "[::1]" || allowHosts.includes(host)) return true;
  return isIPv4(host) && host.startsWith("127.");
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function cookieValue(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (header === undefined) return null;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

export function hasSession(req: IncomingMessage, settings: GuardSettings): boolean {
  const value = cookieValue(req, cookieName(settings.port));
  return value !== null && isSecret(value, settings);
}

export function isSecret(value: string, settings: GuardSettings): boolean {
  return equal(value, settings.secret);
}

/** The token the page sends back in X-P2P-CSRF: derived from the secret, so that nothing else is stored. */
export function csrfToken(secret: string): string {
  return createHmac("sha256", secret).update("p2p-ui-csrf").digest("base64url");
}

/** Why a state-changing request is refused, or null when it may go on. */
export function forgeryCheck(req: IncomingMessage, settings: GuardSettings): string | null {
  if (!hasSession(req, settings)) return "no session: open the URL `p2p ui` prints";
  const token = req.headers[CSRF_HEADER];
  if (typeof token !== "string" || !equal(token, csrfToken(settings.secret))) return `missing or wrong ${CSRF_HEADER} header`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ""}`) return `request from another origin (${origin})`;
  // Browsers that send Sec-Fetch-Site say where the request came from, whatever Origin says.
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return `request from another site (${String(site)})`;
  return null;
}

/** The login link's cookie: the secret, for this path and port, never readable by the page's script. */
export function sessionCookie(settings: GuardSettings): string {
  return `${cookieName(settings.port)}=${settings.secret}; HttpOnly; SameSite=Strict; Path=/`;
}
