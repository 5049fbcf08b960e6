/**
 * A tracker's base URL: http or https, a host, a valid port, no path beyond "/" (requests go to /v1/...
 * on the host). Returns null for anything else, so that the caller can say which setting was wrong.
 */
export function trackerUrlOrNull(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return null;
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") return null;
  return url.origin;
}
