import { hostPort } from "../../common/ip.js";
import type { FoundPeer } from "../sources/candidate-table.js";

/**
 * Who announced which file on the local network, until the announce expires. Capped in total and per
 * sender address, so that one machine on the link, however many datagrams it sends, holds a bounded part of
 * it and cannot push out the others; a sender at its cap refreshes what it has but adds nothing. Pure: time
 * is passed in.
 */

export interface LanPeerLimits {
  /** How long an announce counts: a few announce intervals, so that one lost datagram loses nothing. */
  ttlMs: number;
  /** (file, peer) entries in all. */
  total: number;
  /** Entries one sender address may hold (every port of it together). */
  perSender: number;
  /** Peers one look-up returns at most (the most recently heard). */
  perFind: number;
}

export const LAN_PEER_LIMITS: LanPeerLimits = { ttlMs: 15 * 60_000, total: 20_000, perSender: 1_000, perFind: 50 };

interface Heard {
  host: string;
  port: number;
  expires: number;
}

export class LanPeers {
  /** sha1 -> host:port -> when it expires. */
  private readonly files = new Map<string, Map<string, Heard>>();
  private readonly perSender = new Map<string, number>();
  private entries = 0;
  /** Entries refused for a cap, since the start. */
  refused = 0;

  constructor(private readonly limits: LanPeerLimits = LAN_PEER_LIMITS) {}

  /** Records that `host` serves `files` on `port`; returns the files it names that are now held. */
  heard(host: string, port: number, files: readonly string[], now: number): string[] {
    const key = hostPort(host, port);
    const expires = now + this.limits.ttlMs;
    const held: string[] = [];
    let pruned = false;
    for (const sha1 of files) {
      const peers = this.files.get(sha1);
      const known = peers?.get(key);
      if (known !== undefined) {
        known.expires = expires;
        held.push(sha1);
        continue;
      }
      if (!pruned && (this.entries >= this.limits.total || (this.perSender.get(host) ?? 0) >= this.limits.perSender)) {
        this.prune(now);
        pruned = true;
      }
      if (this.entries >= this.limits.total || (this.perSender.get(host) ?? 0) >= this.limits.perSender) {
        this.refused += 1;
        continue;
      }
      const entry = { host, port, expires };
      if (peers === undefined) this.files.set(sha1, new Map([[key, entry]]));
      else peers.set(key, entry);
      this.perSender.set(host, (this.perSender.get(host) ?? 0) + 1);
      this.entries += 1;
      held.push(sha1);
    }
    return held;
  }

  /** The peers heard announcing `sha1` that have not expired, most recently heard first. */
  peers(sha1: string, now: number): FoundPeer[] {
    const peers = this.files.get(sha1);
    if (peers === undefined) return [];
    const live: Heard[] = [];
    for (const [key, heard] of peers) {
      if (heard.expires > now) live.push(heard);
      else this.remove(sha1, key, heard);
    }
    return live
      .sort((a, b) => b.expires - a.expires)
      .slice(0, this.limits.perFind)
      .map(({ host, port }) => ({ host, port, complete: false }));
  }

  /** Drops every expired entry. */
  prune(now: number): void {
    for (const [sha1, peers] of this.files) {
      for (const [key, heard] of peers) if (heard.expires <= now) this.remove(sha1, key, heard);
    }
  }

  /** Distinct peers (host:port) and files held, for status. */
  counts(): { peers: number; files: number } {
    const peers = new Set<string>();
    for (const entries of this.files.values()) for (const key of entries.keys()) peers.add(key);
    return { peers: peers.size, files: this.files.size };
  }

  private remove(sha1: string, key: string, heard: Heard): void {
    const peers = this.files.get(sha1);
    if (peers?.get(key) !== heard) return;
    peers.delete(key);
    if (peers.size === 0) this.files.delete(sha1);
    const left = (this.perSender.get(heard.host) ?? 1) - 1;
    if (left > 0) this.perSender.set(heard.host, left);
    else this.perSender.delete(heard.host);
    this.entries -= 1;
  }
}
