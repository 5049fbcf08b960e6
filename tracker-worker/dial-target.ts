import { normalizeIp } from "../common/ip.js";

/**
 * Which addresses the tracker may dial back. Deployed, only public unicast ones: a dial-back to a private,
 * loopback, link-local, shared (CGNAT), benchmarking, documentation, multicast or reserved address would
 * reach into Cloudflare's network or nowhere. Locally (`wrangler dev` on a LAN or in tests), DIAL_BACK_PRIVATE
 * lets private ones through too.
 */

function v4Bytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

export function isPublicUnicast(raw: string): boolean {
  const ip = normalizeIp(raw);
  if (ip === null) return false;
  if (ip.includes(":")) {
    const first = parseInt(ip.split(":")[0] || "0", 16);
    if (ip === "::" || ip === "::1") return false;
    // fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast, 2001:db8::/32 documentation.
    if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00) return false;
    if (ip.startsWith("2001:db8:")) return false;
    // Only global unicast (2000::/3) is dialled.
    return (first & 0xe000) === 0x2000;
  }
  const [a = 0, b = 0, c = 0] = v4Bytes(ip);
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 100 && b >= 64 && b <= 127) return false;
  if (a === 169 && b === 254) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false;
  if (a === 198 && (b === 18 || b === 19)) return false;
  if (a === 198 && b === 51 && c === 100) return false;
  if (a === 203 && b === 0 && c === 113) return false;
  return true;
}

/** Loopback and unspecified addresses: never dialled, whatever the settings (they are the tracker itself). */
export function isSelf(raw: string): boolean {
  const ip = normalizeIp(raw);
  if (ip === null) return true;
  return ip === "::" || ip === "::1" || ip.startsWith("127.") || ip.startsWith("0.");
}
