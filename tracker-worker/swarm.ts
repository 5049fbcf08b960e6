import { DurableObject } from "cloudflare:workers";
import type { AnnounceReply, FileMeta, FileStatsReply, PeerEntry } from "../common/wire.js";
import { readConfig, type TrackerConfig } from "./config.js";
import { entryKey, familyOf, PeerTable, type AnnounceInput, type StoredPeer } from "./peer-table.js";
import { Reachability } from "./reachability.js";

/**
 * One file's swarm: a Durable Object per file id, its peers in SQLite, kept in memory as a PeerTable.
 * Every method is called by RPC from the Worker (app.ts), which has already validated its input.
 * Replies are plain results, not thrown errors, because a class does not survive the RPC boundary.
 */

export type SwarmRefusal = "key_mismatch" | "swarm_full" | "address_limit" | "unknown_file";
export type SwarmResult<T> = { ok: true; value: T } | { ok: false; code: SwarmRefusal };

export interface SwarmAnnounce extends AnnounceInput {
  file?: FileMeta;
  limit: number;
  /**
   * The address the announce came from (the connection's), when it is also the address recorded (`ip`): only
   * then is the peer dialled back. Absent, nothing is dialled.
   */
  dialIp?: string;
}

interface PeerRow extends Record<string, SqlStorageValue> {
  peer_id: string;
  family: number;
  key_hash: string;
  ip: string;
  port: number;
  complete: number;
  mapped: number;
  expires_at: number;
}

/** Alarms closer together than this would make a busy swarm sweep all the time. */
const MIN_SWEEP_GAP_MS = 1000;

export class Swarm extends DurableObject<Env> {
  private readonly config: TrackerConfig;
  private readonly table: PeerTable;
  private file: FileMeta | null = null;
  private schemaReady = false;
  private alarmAt: number | null = null;
  /** Each entry's expiry as SQLite holds it (by entryKey), which may lag the table's by up to writeSlackMs. */
  private readonly storedExpiry = new Map<string, number>();
  /**
   * A re-announce that changes nothing but the expiry is written only once the stored expiry lags by this
   * much. After a restart a peer may then expire this much early: still past its interval plus half the
   * grace, so a peer that announces on time never drops. It halves the writes of a busy swarm.
   */
  private readonly writeSlackMs: number;
  /** Dial-back verdicts and bounds (reachability.ts): soft state, lost when the object is evicted. */
  private readonly reach: Reachability;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    this.table = new PeerTable({
      ttlMs: (this.config.intervalSeconds + this.config.graceSeconds) * 1000,
      maxPeers: this.config.maxPeersPerFile,
      maxPerAddress: this.config.maxPeersPerAddress,
    });
    this.writeSlackMs = (this.config.graceSeconds * 1000) / 2;
    this.reach = new Reachability(this.config, (work) => ctx.waitUntil(work));
    // SQLite reads are synchronous: the table is whole before the first call arrives.
    this.load();
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  async announce(input: SwarmAnnounce): Promise<SwarmResult<AnnounceReply>> {
    const now = Date.now();
    this.ensureSchema();
    let outcome = this.table.announce(input, now);
    if ((outcome.kind === "swarm_full" || outcome.kind === "address_limit") && this.sweep(now) > 0) {
      outcome = this.table.announce(input, now);
    }
    switch (outcome.kind) {
      case "key_mismatch":
      case "swarm_full":
      case "address_limit":
        return { ok: false, code: outcome.kind };
      case "absent":
      case "removed":
        if (outcome.kind === "removed") this.deleteRows(outcome.keys);
        if (this.table.size === 0) this.dropStorage();
        return { ok: true, value: { interval: this.config.intervalSeconds, peers: [] } };
      case "upserted": {
        this.persist(outcome.peer, outcome.refreshOnly);
        if (input.complete && input.file !== undefined && this.file === null) this.recordFile(input.file);
        this.scheduleSweep(outcome.peer.expiresAt);
        const reachable = await this.reach.check(input.ip, input.port, input.dialIp, now);
        return {
          ok: true,
          value: {
            interval: this.config.intervalSeconds,
            peers: this.withReachability(this.table.sample(input.limit, Date.now(), input.peerId), Date.now()),
            you: { ip: input.ip, port: input.port, reachable },
          },
        };
      }
    }
  }

  peers(limit: number): SwarmResult<{ interval: number; peers: PeerEntry[] }> {
    const now = Date.now();
    const { complete, incomplete } = this.table.counts(now);
    if (complete + incomplete === 0) return { ok: false, code: "unknown_file" };
    return { ok: true, value: { interval: this.config.intervalSeconds, peers: this.withReachability(this.table.sample(limit, now), now) } };
  }

  stats(sha1: string): SwarmResult<FileStatsReply> {
    const counts = this.table.counts(Date.now());
    if (counts.complete + counts.incomplete === 0) return { ok: false, code: "unknown_file" };
    return { ok: true, value: { sha1, file: this.file, ...counts } };
  }

  /** Dial-backs started by this object since it was loaded: for tests and the operator. */
  dialsStarted(): number {
    return this.reach.started;
  }

  private withReachability(peers: PeerEntry[], now: number): PeerEntry[] {
    return peers.map((peer) => {
      const reachable = this.reach.known(peer.ip, peer.port, now);
      return reachable === undefined ? peer : { ...peer, reachable };
    });
  }

  /** Answers when the object and its SQLite storage do: the health check's probe. */
  ping(): boolean {
    return this.ctx.storage.sql.exec<{ one: number }>("SELECT 1 AS one").one().one === 1;
  }

  /** How many rows storage holds: for tests and the operator, to see that expiry really deletes. */
  storedPeerCount(): number {
    if (!this.schemaReady) return 0;
    return this.sql().exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries").one().n;
  }

  override alarm(): void {
    this.alarmAt = null;
    const now = Date.now();
    this.sweep(now);
    const next = this.table.nextExpiry();
    if (next === null) {
      this.dropStorage();
      return;
    }
    this.scheduleSweep(next);
  }

  private sweep(now: number): number {
    const gone = this.table.expire(now);
    this.deleteRows(gone);
    return gone.length;
  }

  private scheduleSweep(expiresAt: number): void {
    if (this.alarmAt !== null && this.alarmAt <= expiresAt) return;
    const at = Math.max(expiresAt, Date.now() + MIN_SWEEP_GAP_MS);
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** `keys`: entryKey of each entry, `<peerId>/<family>`. */
  private deleteRows(keys: string[]): void {
    if (keys.length === 0 || !this.schemaReady) return;
    for (const key of keys) {
      const slash = key.lastIndexOf("/");
      this.ctx.storage.sql.exec("DELETE FROM entries WHERE peer_id = ? AND family = ?", key.slice(0, slash), Number(key.slice(slash + 1)));
      this.storedExpiry.delete(key);
    }
  }

  private persist(peer: StoredPeer, refreshOnly: boolean): void {
    const key = entryKey(peer.peerId, peer.ip);
    const stored = this.storedExpiry.get(key);
    if (refreshOnly && stored !== undefined && peer.expiresAt - stored < this.writeSlackMs) return;
    this.storedExpiry.set(key, peer.expiresAt);
    this.sql().exec(
      `INSERT INTO entries (peer_id, family, key_hash, ip, port, complete, mapped, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (peer_id, family) DO UPDATE SET key_hash = excluded.key_hash, ip = excluded.ip, port = excluded.port,
         complete = excluded.complete, mapped = excluded.mapped, expires_at = excluded.expires_at`,
      peer.peerId,
      familyOf(peer.ip),
      peer.keyHash,
      peer.ip,
      peer.port,
      peer.complete ? 1 : 0,
      peer.mapped ? 1 : 0,
      peer.expiresAt,
    );
  }

  private recordFile(file: FileMeta): void {
    this.file = file;
    this.sql().exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('file', ?)", JSON.stringify(file));
  }

  /** An empty swarm keeps nothing: its tables, its metadata and its alarm go. */
  private dropStorage(): void {
    this.file = null;
    this.schemaReady = false;
    this.storedExpiry.clear();
    this.alarmAt = null;
    void this.ctx.storage.deleteAlarm();
    void this.ctx.storage.deleteAll();
  }

  private load(): void {
    const tables = new Set(
      this.ctx.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('peers', 'entries')")
        .toArray()
        .map((row) => row.name),
    );
    if (tables.size === 0) return;
    this.ensureSchema();
    if (tables.has("peers")) {
      // Stored before entries were kept per address family (one per peer, keyed by its id): moved over once.
      this.ctx.storage.sql.exec(`
        INSERT OR REPLACE INTO entries (peer_id, family, key_hash, ip, port, complete, expires_at)
          SELECT peer_id, CASE WHEN instr(ip, ':') > 0 THEN 6 ELSE 4 END, key_hash, ip, port, complete, expires_at FROM peers;
        DROP TABLE peers;
      `);
    }
    const rows = this.sql().exec<PeerRow>("SELECT * FROM entries").toArray();
    for (const row of rows) this.storedExpiry.set(`${row.peer_id}/${row.family}`, row.expires_at);
    this.table.load(
      rows.map((row) => ({
        peerId: row.peer_id,
        keyHash: row.key_hash,
        ip: row.ip,
        port: row.port,
        complete: row.complete === 1,
        mapped: row.mapped === 1,
        expiresAt: row.expires_at,
      })),
    );
    const meta = this.sql().exec<{ v: string }>("SELECT v FROM meta WHERE k = 'file'").toArray()[0];
    this.file = meta === undefined ? null : (JSON.parse(meta.v) as FileMeta);
  }

  private ensureSchema(): void {
    if (this.schemaReady) return;
    this.ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS entries (
        peer_id TEXT NOT NULL,
        family INTEGER NOT NULL,
        key_hash TEXT NOT NULL,
        ip TEXT NOT NULL,
        port INTEGER NOT NULL,
        complete INTEGER NOT NULL,
        mapped INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (peer_id, family)
      );
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    `);
    // Entries stored before announces said `mapped` lack the column: added in place, the rows kept (not mapped).
    const columns = this.ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('entries')").toArray();
    if (!columns.some((column) => column.name === "mapped")) {
      this.ctx.storage.sql.exec("ALTER TABLE entries ADD COLUMN mapped INTEGER NOT NULL DEFAULT 0");
    }
    this.schemaReady = true;
  }

  private sql(): SqlStorage {
    this.ensureSchema();
    return this.ctx.storage.sql;
  }
}
