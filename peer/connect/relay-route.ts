import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";

/**
 * What a relay carries between a downloader and a sharer: the read-only public routes and nothing else (pure).
 * The relay is the HTTP server on the downloader's socket and the HTTP client on the sharer's, so a stranger
 * holding a pair cannot use the sharer's address for anything but fetching what it shares.
 */

/**
 * The public routes in origin form, strictly: a file id, one of its sub-resources, and `since` (then
 * `stream=1`) on `/have` only. An absolute URL, `*`, dot segments, encoded characters or any other query
 * match nothing.
 */
const ALLOWED = /^\/v1\/files\/[0-9a-fA-F]{40}(?:\/manifest|\/peers|\/chunks\/\d{1,10}|\/have(?:\?since=\d{1,10}(?:&stream=1)?)?)?$/;

/** Whether a request may go to the sharer: GET or HEAD, without a body, of an allowed route. */
export function isRelayable(method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (url === undefined || !ALLOWED.test(url)) return false;
  // A body would be bytes the sharer's server reads; nothing it serves takes one.
  if (headers["transfer-encoding"] !== undefined) return false;
  const length = headers["content-length"];
  return length === undefined || length === "0";
}

/**
 * Request headers passed on: what the public server reads, except `P2P-Port`, which names a port on the
 * asker's address; through a relay that address is the relay's, so the sharer must not list it for others.
 */
const REQUEST_HEADERS = ["range"] as const;

/** Response headers passed back: what the public server sends. Framing is the relay's own on each side. */
const RESPONSE_HEADERS = ["content-type", "content-length", "content-range", "content-disposition", "accept-ranges", "etag", "cache-control", "retry-after"] as const;

export function requestHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  return pick(req.headers, REQUEST_HEADERS);
}

export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return pick(headers, RESPONSE_HEADERS);
}

function pick(headers: IncomingHttpHeaders, names: readonly string[]): OutgoingHttpHeaders {
  const picked: OutgoingHttpHeaders = {};
  for (const name of names) {
    const value = headers[name];
    // Node joins repeated headers (or keeps set-cookie as a list); a list is never one of ours: dropped.
    if (typeof value === "string") picked[name] = value;
  }
  return picked;
}
