import { hostPort, normalizeIp } from "../../common/ip.js";
import type { FoundPeer } from "./candidate-table.js";
import { dialable, validPort } from "./peer-address.js";
import { mayPointAt } from "./address-scope.js";

/**
 * Another peer's `/peers` answer, which is untrusted: pure checks that bound what it can make us hold.
 * The body is capped before it is read (MAX_ANSWER_BYTES), at most MAX_PEERS_PER_ANSWER entries are looked
 * at, each must be a dialable IP literal and a port, one answering peer can put at most MAX_CREDIT_PER_PEER
 * addresses into a download's candidates whatever it answers over time, and all of them together at most
 * MAX_EXCHANGED_PER_DOWNLOAD (an exchange cannot chain from peer to peer without end).
 */

export const MAX_ANSWER_BYTES = 16 * 1024;
export const MAX_PEERS_PER_ANSWER = 50;
export const MAX_CREDIT_PER_PEER = 50;
/** However many peers answer, a download takes at most this many addresses from the exchange. */
export const MAX_EXCHANGED_PER_DOWNLOAD = 200;

/**
 * The valid entries among the first MAX_PEERS_PER_ANSWER of `{"peers":[{"ip","port"}]}`; [] for anything
 * else. With `from` (the answering peer's address), only addresses at least as wide as its own
 * (address-scope.ts): a peer on the internet cannot point us at our loopback or local network.
 */
export function parsePeersAnswer(body: string, from?: string): FoundPeer[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return [];
  }
  const list = typeof value === "object" && value !== null ? (value as { peers?: unknown }).peers : undefined;
  if (!Array.isArray(list)) return [];
  const found = new Map<string, FoundPeer>();
  for (const entry of list.slice(0, MAX_PEERS_PER_ANSWER) as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { ip, port } = entry as { ip?: unknown; port?: unknown };
    const host = typeof ip === "string" ? normalizeIp(ip) : null;
    if (host === null || !dialable(host) || !validPort(port) || (from !== undefined && !mayPointAt(from, host))) continue;
    found.set(hostPort(host, port), { host, port, complete: false });
  }
  return [...found.values()];
}

/**
 * The part of `found` one answering peer may still add: addresses already admitted (from it or another), and
 * new ones while it has put forward fewer than `perPeer` and the download holds fewer than `total` from the
 * exchange. `credited` (that peer's) and `all` (the download's) are updated.
 */
export function admit(
  credited: Set<string>,
  all: Set<string>,
  found: readonly FoundPeer[],
  perPeer = MAX_CREDIT_PER_PEER,
  total = MAX_EXCHANGED_PER_DOWNLOAD,
): FoundPeer[] {
  const admitted: FoundPeer[] = [];
  for (const peer of found) {
    const key = hostPort(peer.host, peer.port);
    if (!all.has(key)) {
      if (credited.size >= perPeer || all.size >= total) continue;
      all.add(key);
      credited.add(key);
    }
    admitted.push(peer);
  }
  return admitted;
}
