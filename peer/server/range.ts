/**
 * The HTTP Range header of a whole-file GET (RFC 9110 14.2), one range only. Returns the inclusive byte
 * span to send, null for "no Range: send it all", or "unsatisfiable" for a range that cannot be served.
 */
export type RangeResult = { start: number; end: number } | null | "unsatisfiable";

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return null;
  const match = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim());
  if (match === null) return "unsatisfiable";
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return "unsatisfiable";
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}
