import { hostPort } from "../../common/ip.js";

/**
 * Who this daemon recently exchanged chunks with, per file, for `GET /v1/files/{sha1}/peers` (peer
 * exchange): peers it downloaded a verified chunk from (the address it dialled) and peers that downloaded
 * a chunk from it (the connection's address, with the public port they stated). Only addresses seen on a
 * socket get here. Bounded: entries older than `ttlMs` are not listed and go when the file is next touched,
 * at most `perFile` per file (the least recent gives way), at most `total` in all (the oldest anywhere goes).
 * Pure: time is passed in.
 */

export interface ExchangedPeer {
  ip: string;
  port: number;
}

interface Entry extends ExchangedPeer {
  at: number;
}

export interface LedgerLimits {
  ttlMs: number;
  perFile: number;
  total: number;
}

export const DEFAULT_LEDGER_LIMITS: LedgerLimits = { ttlMs: 10 * 60_000, perFile: 200, total: 5000 };

/** Entries one address may hold per file. */
export const MAX_PER_ADDRESS = 4;

export class ExchangeLedger {
  /** Per file, entries by host:port in the order they were last seen, oldest first. */
  private readonly files = new Map<string, Map<string, Entry>>();
  private count = 0;

  constructor(private readonly limits: LedgerLimits = DEFAULT_LEDGER_LIMITS) {}

  get size(): number {
    return this.count;
  }

  /** `ip` must be canonical (common/ip.ts normalizeIp), as a socket gave it. */
  record(sha1: string, ip: string, port: number, now: number): void {
    let entries = this.files.get(sha1);
    if (entries === undefined) {
      entries = new Map();
      this.files.set(sha1, entries);
    }
    const key = hostPort(ip, port);
    if (entries.delete(key)) this.count -= 1;
    this.expire(sha1, entries, now);
    // One address holds a few entries at most (several daemons may share one behind a NAT): a client that
    // states port after port would otherwise push every honest peer out of the file's list.
    const same = [...entries].filter(([, entry]) => entry.ip === ip);
    for (const [old] of same.slice(0, Math.max(0, same.length - (MAX_PER_ADDRESS - 1)))) {
      entries.delete(old);
      this.count -= 1;
    }
    // Expiring may have emptied, and so dropped, the file's map.
    this.files.set(sha1, entries);
    entries.set(key, { ip, port, at: now });
    this.count += 1;
    if (entries.size > this.limits.perFile) this.dropFirst(sha1, entries);
    while (this.count > this.limits.total) this.dropOldest();
  }

  /** Up to `max` peers of the file seen within the ttl, the most recent first, without `except` (host:port). */
  list(sha1: string, now: number, max = 50, except?: string): ExchangedPeer[] {
    const entries = this.files.get(sha1);
    if (entries === undefined) return [];
    this.expire(sha1, entries, now);
    const listed: ExchangedPeer[] = [];
    for (const [key, { ip, port }] of [...entries].reverse()) {
      if (listed.length >= max) break;
      if (key !== except) listed.push({ ip, port });
    }
    return listed;
  }

  private expire(sha1: string, entries: Map<string, Entry>, now: number): void {
    for (const entry of entries.values()) {
      if (now - entry.at < this.limits.ttlMs) break;
      this.dropFirst(sha1, entries);
    }
  }

  private dropFirst(sha1: string, entries: Map<string, Entry>): void {
    const first = entries.keys().next();
    if (first.done === true) return;
    entries.delete(first.value);
    this.count -= 1;
    if (entries.size === 0) this.files.delete(sha1);
  }

  /** Drops the least recent entry of all files (each file's first is its oldest). */
  private dropOldest(): void {
    let oldest: { sha1: string; entries: Map<string, Entry>; at: number } | undefined;
    for (const [sha1, entries] of this.files) {
      const first = entries.values().next();
      if (first.done !== true && (oldest === undefined || first.value.at < oldest.at)) oldest = { sha1, entries, at: first.value.at };
    }
    if (oldest !== undefined) this.dropFirst(oldest.sha1, oldest.entries);
  }
}
