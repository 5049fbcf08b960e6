import type { PeerEntry } from "../common/wire.js";

/**
 * The swarm of one file as plain values: who is in it, whose key owns which entry, who has expired, and
 * a random sample for a reply. No storage and no clock of its own: the Durable Object (swarm.ts) loads it,
 * passes the time in, and persists what each call says changed.
 */

export interface StoredPeer {
  peerId: string;
  /** SHA-256 hex of the secret the peer chose at its first announce. */
  keyHash: string;
  ip: string;
  port: number;
  complete: boolean;
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
}

export type AnnounceOutcome =
  /** `refreshOnly`: the same owner, address, port and state as before; only the expiry moved. */
  | { kind: "upserted"; peer: StoredPeer; created: boolean; refreshOnly: boolean }
  | { kind: "removed"; peerId: string }
  | { kind: "absent" }
  | { kind: "key_mismatch" }
  | { kind: "swarm_full" }
  | { kind: "address_limit" };

export class PeerTable {
  private readonly peers = new Map<string, StoredPeer>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: SwarmLimits) {}

  get size(): number {
    return this.peers.size;
  }

  load(entries: Iterable<StoredPeer>): void {
    for (const peer of entries) this.put(peer);
  }

  get(peerId: string): StoredPeer | undefined {
    return this.peers.get(peerId);
  }

  announce(input: AnnounceInput, now: number): AnnounceOutcome {
    const existing = this.peers.get(input.peerId);
    // A dead entry's key no longer holds the id: the id is free again, as if the entry were gone.
    const live = existing !== undefined && existing.expiresAt > now ? existing : undefined;
    if (live !== undefined && live.keyHash !== input.keyHash) return { kind: "key_mismatch" };
    if (input.stopped) {
      if (existing === undefined) return { kind: "absent" };
      this.remove(existing.peerId);
      return { kind: "removed", peerId: existing.peerId };
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
      expiresAt: now + this.limits.ttlMs,
    };
    const refreshOnly =
      live !== undefined && live.ip === peer.ip && live.port === peer.port && live.complete === peer.complete;
    if (existing !== undefined) this.remove(existing.peerId);
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
    return pool.slice(0, take).map(({ peerId, ip, port, complete }) => ({ peerId, ip, port, complete }));
  }

  /** Removes every entry whose time is up and returns their ids. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const peer of this.peers.values()) {
      if (peer.expiresAt <= now) gone.push(peer.peerId);
    }
    for (const peerId of gone) this.remove(peerId);
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

  counts(now: number): { complete: number; incomplete: number } {
    let complete = 0;
    let incomplete = 0;
    for (const peer of this.peers.values()) {
      if (peer.expiresAt <= now) continue;
      if (peer.complete) complete++;
      else incomplete++;
    }
    return { complete, incomplete };
  }

  private put(peer: StoredPeer): void {
    this.peers.set(peer.peerId, peer);
    this.perAddress.set(peer.ip, (this.perAddress.get(peer.ip) ?? 0) + 1);
  }

  private remove(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (peer === undefined) return;
    this.peers.delete(peerId);
    const left = (this.perAddress.get(peer.ip) ?? 1) - 1;
    if (left > 0) this.perAddress.set(peer.ip, left);
    else this.perAddress.delete(peer.ip);
  }
}
