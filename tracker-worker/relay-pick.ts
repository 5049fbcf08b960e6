import type { Family } from "./peer-table.js";

/**
 * Which relay connects an asker and a peer: a pure function over the listed relays (relay-registry.ts). Both
 * sides dial the relay, each over its own address family, so a relay must have an entry in the asker's family
 * and one in the peer's (the same entry when the families agree). A relay at the asker's or the peer's own
 * address is never picked: it would be one of them, or behind the same router, where a hairpin may not work.
 */

export interface ListedRelay {
  peerId: string;
  family: Family;
  ip: string;
  port: number;
  /** The relay's token key (common/relay-token.ts), the same in each of its entries. */
  tokenKey: string;
}

export interface RelayChoice {
  forAsker: { ip: string; port: number };
  forTarget: { ip: string; port: number };
  /** What the token for this pair is minted with. */
  tokenKey: string;
}

export function pickRelay(
  relays: readonly ListedRelay[],
  askerFamily: Family,
  targetFamily: Family,
  exclude: readonly string[],
  random: () => number = Math.random,
): RelayChoice | null {
  const byPeer = new Map<string, Partial<Record<Family, ListedRelay>>>();
  const excluded = new Set<string>();
  for (const relay of relays) {
    if (exclude.includes(relay.ip)) excluded.add(relay.peerId);
    byPeer.set(relay.peerId, { ...byPeer.get(relay.peerId), [relay.family]: relay });
  }
  const candidates: RelayChoice[] = [];
  for (const [peerId, entries] of byPeer) {
    const forAsker = entries[askerFamily];
    const forTarget = entries[targetFamily];
    if (excluded.has(peerId) || forAsker === undefined || forTarget === undefined) continue;
    candidates.push({ forAsker: { ip: forAsker.ip, port: forAsker.port }, forTarget: { ip: forTarget.ip, port: forTarget.port }, tokenKey: forTarget.tokenKey });
  }
  if (candidates.length === 0) return null;
  return candidates[Math.floor(random() * candidates.length)] ?? null;
}
