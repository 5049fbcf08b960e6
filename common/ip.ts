/**
 * IP address parsing and canonical forms (RFC 5952 for IPv6). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is the IPv4 address it carries. Anything that is not an address is null.
 */

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part.startsWith("0"))) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes.push(value);
  }
  return bytes;
}

/** The eight 16-bit groups of an IPv6 address, or null. */
function parseIpv6(text: string): number[] | null {
  let body = text;
  if (body.includes(".")) {
    // An embedded IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
    const lastColon = body.lastIndexOf(":");
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === null) return null;
    const high = ((v4[0]! << 8) | v4[1]!).toString(16);
    const low = ((v4[2]! << 8) | v4[3]!).toString(16);
    body = `${body.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === "") return [];
    const groups: number[] = [];
    for (const group of half.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
      groups.push(parseInt(group, 16));
    }
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === null || rest === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    groups = head;
  }
  return groups.length === 8 ? groups : null;
}

function formatIpv6(groups: number[]): string {
  // RFC 5952: the longest run (two or more) of zero groups becomes "::", the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** A TCP or UDP port a peer can be reached at: a whole number 1-65535 (0 is "any", never a peer's). */
export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** The canonical text of an address, or null when `raw` is not one. */
export function normalizeIp(raw: string): string | null {
  const text = raw.trim().replace(/^\[(.*)\]$/, "$1");
  if (text.length === 0 || text.length > 64) return null;
  const v4 = parseIpv4(text);
  if (v4 !== null) return v4.join(".");
  if (!text.includes(":")) return null;
  const groups = parseIpv6(text);
  if (groups === null) return null;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".");
  return formatIpv6(groups);
}

/** True when the canonical address is IPv6 (and so needs brackets in a URL). */
export function isIpv6(ip: string): boolean {
  return ip.includes(":");
}

/** host:port for a URL, with brackets around IPv6. */
export function hostPort(ip: string, port: number): string {
  return isIpv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The unit one party is counted by in per-address caps: an IPv4 address itself, an IPv6 address's /64
 * (`2001:db8:1:2::/64`), since a single host or home is commonly given a whole /64 and can use any address in
 * it. Anything that is not an address is counted as itself.
 */
export function addressGroup(raw: string): string {
  const ip = normalizeIp(raw);
  if (ip === null) return raw;
  if (!isIpv6(ip)) return ip;
  const groups = parseIpv6(ip);
  if (groups === null) return ip;
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}
