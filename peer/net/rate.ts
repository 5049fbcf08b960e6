import { Errors } from "../errors.js";

/**
 * Transfer rates, in bytes per second; 0 means no limit. The units are binary, as BitTorrent clients show
 * rates (KiB/s): `k` = 1024, `M` = 1024², `G` = 1024³, so `500k` is 512,000 B/s and `2M` 2,097,152 B/s.
 * `kB`/`MB` are refused rather than guessed at: whether they mean 1000 or 1024 is exactly the confusion.
 */

export const KiB = 1024;
/** The slowest limit: below it a 1 MiB chunk would take longer than any peer waits for it. */
export const MIN_RATE = KiB;
/** 1 TiB/s: far above any link, and every rate stays a safe integer. */
export const MAX_RATE = KiB ** 4;

const UNITS: Record<string, number> = { "": 1, b: 1, k: KiB, m: KiB ** 2, g: KiB ** 3 };
const RATE = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:ib)?|(b))?(?:\/s)?$/i;
const HINT = "a rate is bytes per second: 500k, 2M, 1.5M, 1048576, or 0 / unlimited for no limit (k = 1024, M = 1024²)";

/** `500k`, `2M`, `1.5MiB`, `1048576`, `0` or `unlimited` as bytes per second; throws INVALID_RATE otherwise. */
export function parseRate(raw: string): number {
  const text = raw.trim();
  if (/^unlimited$/i.test(text)) return 0;
  const match = RATE.exec(text);
  if (match === null) {
    const decimal = /^(\d+(?:\.\d+)?)\s*([kmg])b(?:\/s)?$/i.exec(text);
    if (decimal !== null) {
      const written = `${decimal[1] ?? ""}${decimal[2] ?? ""}`;
      throw Errors.invalidRate(`${JSON.stringify(raw)} is ambiguous (1000 or 1024?): write ${written} or ${written}iB, which mean the same here`, HINT);
    }
    throw Errors.invalidRate(`${JSON.stringify(raw)} is not a rate`, HINT);
  }
  const unit = (match[2] ?? match[3] ?? "").toLowerCase();
  return checkRate(Math.round(Number(match[1]) * (UNITS[unit] ?? 1)), raw);
}

/** A rate given in JSON: a number of bytes per second, or a string as `parseRate` takes it. */
export function rateFromJson(value: unknown, field: string): number {
  if (typeof value === "string") return parseRate(value);
  if (typeof value === "number" && Number.isSafeInteger(value)) return checkRate(value, String(value));
  throw Errors.invalidRate(`${field} must be a whole number of bytes per second or a string such as "2M", got ${JSON.stringify(value)}`, HINT);
}

function checkRate(rate: number, raw: string): number {
  if (rate === 0) return 0;
  if (rate < MIN_RATE) throw Errors.invalidRate(`${JSON.stringify(raw)} is below the smallest limit, 1k (1024 bytes per second)`, HINT);
  if (rate > MAX_RATE) throw Errors.invalidRate(`${JSON.stringify(raw)} is above the largest limit, 1024G`, HINT);
  return rate;
}

/** `4 MiB/s`, `500 KiB/s`, `1.5 MiB/s`, `800 B/s`, or `unlimited` for 0. */
export function formatRate(rate: number): string {
  if (rate === 0) return "unlimited";
  const units: Array<[number, string]> = [
    [KiB ** 3, "GiB/s"],
    [KiB ** 2, "MiB/s"],
    [KiB, "KiB/s"],
  ];
  for (const [size, name] of units) {
    if (rate >= size) return `${Number((rate / size).toFixed(2))} ${name}`;
  }
  return `${rate} B/s`;
}
