import { lookup } from "node:dns/promises";
import { orAfter } from "../time-limit.js";
import { networkInterfaces } from "node:os";
import { isIP } from "node:net";
import { addressScope } from "../sources/address-scope.js";

/**
 * Which address families a daemon announces over to one tracker. The tracker records the address an
 * announce came from, so a dual-stack daemon is listed under both of its addresses only if it announces
 * once over each family (docs/architecture.md "IPv6"). That takes a tracker reachable over both: a host
 * name with A and AAAA records. A literal address has one family, and so one announce, as before.
 */
export type Family = 4 | 6;

/** What this machine has beside loopback: an IPv4 address, and an IPv6 one that is not link-local. */
export interface LocalFamilies {
  ipv4: boolean;
  ipv6: boolean;
}

/**
 * Pure: the families to announce over, one request each; `[undefined]` is one announce over whatever the
 * system picks (a literal tracker address, a daemon bound to one address, one family only). Loopback answers
 * of the tracker's name are left out: both families reach the same machine, and a tracker there records
 * this machine's loopback address whichever is used.
 */
export function familiesToAnnounce(trackerHost: string, resolved: readonly string[], local: LocalFamilies, localAddress?: string): (Family | undefined)[] {
  if (localAddress !== undefined || isIP(trackerHost.replace(/^\[(.*)\]$/, "$1")) !== 0) return [undefined];
  const reached = resolved.filter((ip) => addressScope(ip) !== "loopback");
  const four = local.ipv4 && reached.some((ip) => isIP(ip) === 4);
  const six = local.ipv6 && reached.some((ip) => isIP(ip) === 6);
  return four && six ? [4, 6] : [undefined];
}

/** Pure: the families among a machine's interface addresses (os.networkInterfaces()). */
export function localFamilies(interfaces: NodeJS.Dict<{ address: string; family: string | number; internal: boolean }[]>): LocalFamilies {
  const addresses = Object.values(interfaces).flatMap((list) => list ?? []).filter((a) => !a.internal);
  const isSix = (a: { family: string | number }): boolean => a.family === "IPv6" || a.family === 6;
  return {
    ipv4: addresses.some((a) => !isSix(a)),
    // A link-local address (fe80::/10) is on every IPv6 interface and reaches no tracker.
    ipv6: addresses.some((a) => isSix(a) && !/^fe[89ab]/i.test(a.address)),
  };
}

export function machineFamilies(): LocalFamilies {
  return localFamilies(networkInterfaces());
}

/** Resolves the tracker's host (at most `timeoutMs`) and decides; a failed look-up is one announce as before. */
export async function announceFamilies(baseUrl: string, localAddress: string | undefined, timeoutMs = 3000): Promise<(Family | undefined)[]> {
  const host = new URL(baseUrl).hostname;
  if (localAddress !== undefined || isIP(host.replace(/^\[(.*)\]$/, "$1")) !== 0) return [undefined];
  const local = machineFamilies();
  if (!local.ipv4 || !local.ipv6) return [undefined];
  const answers = await orAfter(lookup(host, { all: true }).catch(() => []), timeoutMs, []);
  return familiesToAnnounce(host, answers.map((a) => a.address), local, localAddress);
}
