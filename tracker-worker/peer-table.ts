import { isIpv6 } from "../common/ip.js";
import type { PeerEntry } from "../common/wire.js";

/**
 * The swarm of one file as plain values: who is in it, whose key owns which entry, who has expired, and
 * a random sample for a reply. No storage and no clock of its own: the Durable Object (swarm.ts) loads it,
 * passes the time in, and persists what each call says changed.
 *
 * A peer may hold one entry per address family: a dual-stack daemon announces once over IPv4 and once over
 * IPv6 (the tracker records the address each request came from), and both addresses are listed, each with
 * its peerId, so that a downloader sees they are one peer (docs/protocol.md §1). Both entries are the same
 * peer's: one key owns them, a `stopped` removes both, and the counts count the peer once.
 */

export type Family = 4 | 6;

export function familyOf(ip: string): Family {
  return isIpv6(ip) ? 6 : 4;
}

/** The key of one entry: a peer's id and the family of its address. */
export function entryKey(peerId: string, ip: string): string {
  return `${peerId}/${familyOf(ip)}`;
}

export interface StoredPeer {
  peerId: string;
  /** SHA-256 hex of the secret the peer chose at its first announce. */
  keyHash: string;
  ip: string;
  port: number;
  complete: boolean;
  /** The port is a mapping the peer made on its router. */
  mapped: boolean;
  /** Epoch ms after which the entry is dead unless re-announced. */
  expiresAt: number;
}

export interface SwarmLimits {
  /** How long a peer's announce keeps it alive: the re-announce interval plus the grace period. */
  ttlMs: number;
  /** Entries kept per file; past it new peers are refused. */
  maxPeers: number;
  /** Entries one address may hold in one file, so that a few peers behind one NAT fit but one host cannot fill a swarm. */
  maxPerAddress: number;
}

export interface AnnounceInput {
  peerId: string;
  keyHash: string;
  ip: string;
  port: number;
  complete: boolean;
  stopped: boolean;
  /** Absent means false: the port is the peer's own. */
  mapped?: boolean;
}

export type AnnounceOutcome =
  /** `refreshOnly`: the same owner, address, port and state as before; only the expiry moved. */
  | { kind: "upserted"; peer: StoredPeer; created: boolean; refreshOnly: boolean }
  /** `keys`: the entries removed (entryKey), every family's. */
  | { kind: "removed"; keys: string[] }
  | { kind: "absent" }
  | { kind: "key_mismatch" }
  | { kind: "swarm_full" }
  | { kind: "address_limit" };

export class PeerTable {
  /** By entryKey: a peer's entry per address family. */
  private readonly peers = new Map<string, StoredPeer>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: SwarmLimits) {}

  /** How many entries (a dual-stack peer holds two). */
  get size(): number {
    return this.peers.size;
  }

  load(entries: Iterable<StoredPeer>): void {
    for (const peer of entries) this.put(peer);
  }

  /** The peer's entry for the family of `ip` (IPv4 when absent). */
  get(peerId: string, ip = "0.0.0.0"): StoredPeer | undefined {
    return this.peers.get(entryKey(peerId, ip));
  }

  /** Every entry of one peer, of either family. */
  private entriesOf(peerId: string): StoredPeer[] {
    return [this.peers.get(`${peerId}/4`), this.peers.get(`${peerId}/6`)].filter((p): p is StoredPeer => p !== undefined);
  }

  announce(input: AnnounceInput, now: number): AnnounceOutcome {
    const key = entryKey(input.peerId, input.ip);
    const existing = this.peers.get(key);
    // A dead entry's key no longer holds the id: the id is free again, as if the entry were gone. The key of
    // either family's live entry holds the id for both.
    const owners = this.entriesOf(input.peerId).filter((entry) => entry.expiresAt > now);
    if (owners.some((entry) => entry.keyHash !== input.keyHash)) return { kind: "key_mismatch" };
    const live = existing !== undefined && existing.expiresAt > now ? existing : undefined;
    if (input.stopped) {
      const gone = this.entriesOf(input.peerId).map((entry) => entryKey(entry.peerId, entry.ip));
      if (gone.length === 0) return { kind: "absent" };
      for (const k of gone) this.remove(k);
      return { kind: "removed", keys: gone };
    }
    if (existing === undefined && this.peers.size >= this.limits.maxPeers) return { kind: "swarm_full" };
    const movesAddress = existing === undefined || existing.ip !== input.ip;
    if (movesAddress && (this.perAddress.get(input.ip) ?? 0) >= this.limits.maxPerAddress) {
      return { kind: "address_limit" };
    }
    const peer: StoredPeer = {
      peerId: input.peerId,
      keyHash: input.keyHash,
      ip: input.ip,
      port: input.port,
      complete: input.complete,
      mapped: input.mapped === true,
      expiresAt: now + this.limits.ttlMs,
    };
    const refreshOnly =
      live !== undefined && live.ip === peer.ip && live.port === peer.port && live.complete === peer.complete && live.mapped === peer.mapped;
    if (existing !== undefined) this.remove(key);
    this.put(peer);
    return { kind: "upserted", peer, created: live === undefined, refreshOnly };
  }

  /** Up to `limit` live peers other than `excludePeerId`, chosen uniformly at random. */
  sample(limit: number, now: number, excludePeerId?: string, random: () => number = Math.random): PeerEntry[] {
    const pool: StoredPeer[] = [];
    for (const peer of this.peers.values()) {
      if (peer.expiresAt > now && peer.peerId !== excludePeerId) pool.push(peer);
    }
    const take = Math.min(Math.max(0, Math.floor(limit)), pool.length);
    // Partial Fisher-Yates: the first `take` slots end up a uniform sample without replacement.
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      const swap = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = swap;
    }
    return pool
      .slice(0, take)
      .map(({ peerId, ip, port, complete, mapped }) => (mapped ? { peerId, ip, port, complete, mapped: true } : { peerId, ip, port, complete }));
  }

  /** Removes every entry whose time is up and returns their keys (entryKey). */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [key, peer] of this.peers) {
      if (peer.expiresAt <= now) gone.push(key);
    }
    for (const key of gone) this.remove(key);
    return gone;
  }

  /** When the next entry dies, or null for an empty swarm. */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const peer of this.peers.values()) {
      if (next === null || peer.expiresAt < next) next = peer.expiresAt;
    }
    return next;
  }

  /** Peers, not entries: a dual-stack peer counts once (complete if either entry says so). */
  counts(now: number): { complete: number; incomplete: number } {
    const seen = new Map<string, boolean>();
    for (const peer of this.peers.values()) {
      if (peer.expiresAt <= now) continue;
      seen.set(peer.peerId, (seen.get(peer.peerId) ?? false) || peer.complete);
    }
    let complete = 0;
    for (const whole of seen.values()) if (whole) complete++;
    return { complete, incomplete: seen.size - complete };
  }

  private put(peer: StoredPeer): void {
    this.peers.set(entryKey(peer.peerId, peer.ip), peer);
    this.perAddress.set(peer.ip, (this.perAddress.get(peer.ip) ?? 0) + 1);
  }

  private remove(key: string): void {
    const peer = this.peers.get(key);
    if (peer === undefined) return;
    this.peers.delete(key);
    const left = (this.perAddress.get(peer.ip) ?? 1) - 1;
    if (left > 0) this.perAddress.set(peer.ip, left);
    else this.perAddress.delete(peer.ip);
  }
}
