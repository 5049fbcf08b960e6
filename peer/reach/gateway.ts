import { createSocket } from "node:dgram";
import { readFile } from "node:fs/promises";

/**
 * Where NAT-PMP and PCP are sent: the default gateway (RFC 6886 §3.1). Read from the kernel's IPv4 routing
 * table on Linux; elsewhere there is none to read without spawning a tool, and only UPnP (which finds its
 * router by multicast) is tried. P2P_GATEWAY names one instead (a router that is not the default route).
 */

/** The default gateway in /proc/net/route's text, or null. Its addresses are little-endian hex. */
export function parseRouteTable(text: string): string | null {
  for (const line of text.split("\n").slice(1)) {
    const [, destination, gateway, flags] = line.trim().split(/\s+/);
    if (destination !== "00000000" || gateway === undefined || !/^[0-9A-Fa-f]{8}$/.test(gateway)) continue;
    // RTF_UP (1) and RTF_GATEWAY (2).
    if ((parseInt(flags ?? "0", 16) & 3) !== 3) continue;
    const value = parseInt(gateway, 16);
    return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24].join(".");
  }
  return null;
}

export async function defaultGateway(): Promise<string | null> {
  const named = process.env["P2P_GATEWAY"]?.trim();
  if (named !== undefined && named !== "") return named;
  if (process.platform !== "linux") return null;
  const table = await readFile("/proc/net/route", "utf8").catch(() => "");
  return parseRouteTable(table);
}

/** This machine's address on the way to `host` (what a router must forward to), or null. No packet is sent. */
export function localAddressTowards(host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => {
      socket.close();
      resolve(null);
    });
    socket.connect(9, host, () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}
