import { normalizeIp } from "../../common/ip.js";

/**
 * How far an address reaches: this machine (loopback), a local network (private, shared and link-local
 * ranges, RFC 1918, 6598, 3927, 4193, 4291), or the internet. A peer may only point us at addresses at least
 * as wide as its own: a peer on the internet that names 127.0.0.1:6379 or 192.168.1.1:80 in its peer
 * exchange answer would otherwise make this daemon connect to services of its own machine or network.
 */
export type AddressScope = "loopback" | "private" | "public";

const RANK: Record<AddressScope, number> = { loopback: 0, private: 1, public: 2 };

export function addressScope(ip: string): AddressScope {
  const canonical = normalizeIp(ip) ?? ip;
  if (canonical.includes(":")) {
    const first = parseInt(canonical.split(":")[0] || "0", 16);
    // `::` and the IPv4-compatible ::a.b.c.d (all but the last 32 bits zero) reach this machine when dialled.
    if (canonical === "::1" || canonical === "::" || /^::[0-9a-f]{1,4}(:[0-9a-f]{1,4})?$/.test(canonical)) return "loopback";
    if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80) return "private";
    return "public";
  }
  const [a = 0, b = 0] = canonical.split(".").map(Number);
  // 0.0.0.0/8: 0.0.0.0 reaches this machine when dialled.
  if (a === 127 || a === 0) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254)) {
    return "private";
  }
  return "public";
}

/** Multicast, broadcast and reserved addresses: never one peer's, never dialled. */
function isNoPeer(ip: string): boolean {
  const canonical = normalizeIp(ip) ?? ip;
  if (canonical.includes(":")) return /^ff[0-9a-f]{2}:/.test(canonical);
  const a = Number(canonical.split(".")[0] ?? "0");
  return a >= 224;
}

/** Whether a peer at `from` may point us at `to`. */
export function mayPointAt(from: string, to: string): boolean {
  return !isNoPeer(to) && RANK[addressScope(to)] >= RANK[addressScope(from)];
}
