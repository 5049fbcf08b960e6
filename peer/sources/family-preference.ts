import { isIpv6, normalizeIp } from "../../common/ip.js";
import type { Candidate } from "./candidate-table.js";

/**
 * Pure: which of a peer's addresses to try first. A tracker lists a dual-stack peer twice, once per address
 * family, with the same peerId (the tracker records the address each announce came from). Both are one
 * peer: a download uses one connection to it, at the preferred family's address, with the other kept as
 * the fallback (peer-http.ts). A machine with IPv6 beside loopback and link-local prefers IPv6, as Happy
 * Eyeballs does (RFC 8305): a direct IPv6 path needs no NAT on either side; a downloader bound to one
 * address (`--bind`) prefers that address's family, the only one it can use.
 */
export type Family = 4 | 6;

export function familyOfIp(ip: string): Family {
  return isIpv6(normalizeIp(ip) ?? ip) ? 6 : 4;
}

export function preferredFamily(machineHasIpv6: boolean, localAddress?: string): Family {
  if (localAddress !== undefined && localAddress !== "0.0.0.0" && localAddress !== "::") return familyOfIp(localAddress);
  return machineHasIpv6 ? 6 : 4;
}

/** One peer's addresses, the one to try first first. */
export interface PeerAddresses {
  first: Candidate;
  fallbacks: Candidate[];
}

/**
 * Groups candidates by peerId (those without one stand alone), each group's preferred-family address first;
 * groups keep the order of their first member, so that complete peers still come first.
 */
export function groupByPeer(candidates: readonly Candidate[], prefer: Family): PeerAddresses[] {
  const groups: Candidate[][] = [];
  const byPeer = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    const id = candidate.peerId;
    const group = id === undefined ? undefined : byPeer.get(id);
    if (group !== undefined) {
      group.push(candidate);
      continue;
    }
    const fresh = [candidate];
    groups.push(fresh);
    if (id !== undefined) byPeer.set(id, fresh);
  }
  return groups.map((group) => {
    const ordered = [...group].sort((a, b) => Number(familyOfIp(b.host) === prefer) - Number(familyOfIp(a.host) === prefer));
    return { first: ordered[0]!, fallbacks: ordered.slice(1) };
  });
}
