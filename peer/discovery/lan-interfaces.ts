import type { NetworkInterfaceInfo } from "node:os";
import { normalizeIp } from "../../common/ip.js";
import { addressScope } from "../sources/address-scope.js";

/**
 * Which local networks LAN discovery speaks on, and who counts as being on one. Pure: the interface list
 * (os.networkInterfaces()) is passed in.
 */

export interface LanInterface {
  /** eth0, wlan0: for status. */
  name: string;
  address: string;
  /** The interface's network, as 32-bit numbers: an address is on it when (address & mask) === network. */
  network: number;
  mask: number;
}

function ipv4Number(address: string): number | null {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return null;
  return parts.reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}

/** Why LAN discovery cannot run for a daemon on `host`, or null when it can. */
export function lanHostProblem(host: string): string | null {
  const canonical = normalizeIp(host);
  if (canonical === "0.0.0.0" || canonical === "::") return null;
  if (canonical === null) return `${host} is not an IP address`;
  if (canonical.includes(":")) return `LAN discovery is IPv4 only, and the public port listens on ${canonical} alone`;
  if (addressScope(canonical) === "loopback") return `the public port listens on ${canonical}, which nothing on the local network can reach`;
  return null;
}

/**
 * The interfaces to multicast on: the one that has `host`, or for 0.0.0.0 and :: every IPv4 interface that
 * is up and not loopback (the laptop's Wi-Fi and its Ethernet alike). Each address once, in a stable order.
 */
export function lanInterfaces(all: NodeJS.Dict<NetworkInterfaceInfo[]>, host: string): LanInterface[] {
  const canonical = normalizeIp(host);
  const everywhere = canonical === "0.0.0.0" || canonical === "::";
  const found = new Map<string, LanInterface>();
  for (const [name, infos] of Object.entries(all).sort(([a], [b]) => a.localeCompare(b))) {
    for (const info of infos ?? []) {
      if (info.family !== "IPv4" || info.internal || found.has(info.address)) continue;
      if (!everywhere && info.address !== canonical) continue;
      const address = ipv4Number(info.address);
      const mask = ipv4Number(info.netmask);
      if (address === null || mask === null || addressScope(info.address) === "loopback") continue;
      found.set(info.address, { name, address: info.address, network: (address & mask) >>> 0, mask });
    }
  }
  return [...found.values()];
}

/**
 * Whether a datagram from `source` came from a machine on one of these networks. What multicast with TTL 1
 * brings is on the link anyway; this refuses the rest (a unicast datagram from afar to the group's port, an
 * address outside every local subnet), so that nobody beyond the local networks can name peers.
 */
export function onLocalNetwork(source: string, interfaces: readonly LanInterface[]): boolean {
  const canonical = normalizeIp(source);
  if (canonical === null || addressScope(canonical) === "loopback") return false;
  const address = ipv4Number(canonical);
  if (address === null) return false;
  return interfaces.some((lan) => ((address & lan.mask) >>> 0) === lan.network);
}
