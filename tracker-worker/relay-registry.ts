import { DurableObject } from "cloudflare:workers";
import { addressGroup } from "../common/ip.js";
import type { RelayOfferReply } from "../common/rendezvous-wire.js";
import { readConfig, type TrackerConfig } from "./config.js";
import { familyOf, type Family } from "./peer-table.js";
import { Reachability } from "./reachability.js";
import { pickRelay, type ListedRelay, type RelayChoice } from "./relay-pick.js";

/**
 * The relays the tracker knows: one Durable Object named "relays", its entries in SQLite, one per relay and
 * address family (a dual-stack relay offers itself over each). An entry lives for the announce interval plus
 * the grace; a relay is handed out only when listed:
 * - with DIAL_BACK on, when a dial-back to the offering connection's own address and the offered port reached
 *   an HTTP server (the same code and bounds as announces: reachability.ts; private targets only with
 *   DIAL_BACK_PRIVATE);
 * - with DIAL_BACK off, always: the operator chose not to check, as announced peers are then listed unchecked.
 *   The address is still the connection's own, never a claimed one.
 * Expired entries are deleted whenever an offer comes, and skipped by every read, so no alarm is needed.
 * Each entry keeps the relay's token key (common/relay-token.ts: derived from the key it offered with; the key
 * itself is never stored), with which the tracker mints the tokens that relay takes.
 */

export const MAX_RELAYS = 1000;
/**
 * Entries one address (an IPv6 address's /64: addressGroup) may hold: a few relays behind one address are
 * plausible, a thousand are a flood.
 */
export const MAX_RELAYS_PER_ADDRESS = 4;

export interface RelayOfferInput {
  peerId: string;
  /** The offering connection's address: the only one ever recorded or dialled. */
  ip: string;
  port: number;
  /** relayTokenKey(the offered key), hex. */
  tokenKey: string;
  stopped: boolean;
}

export type RegistryResult<T> = { ok: true; value: T } | { ok: false; code: "relays_full" | "address_limit" };

interface RelayRow extends Record<string, SqlStorageValue> {
  peer_id: string;
  family: number;
  ip: string;
  port: number;
  token_key: string;
  ip_group: string;
}

export class RelayRegistry extends DurableObject<Env> {
  private readonly config: TrackerConfig;
  private readonly reach: Reachability;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    // A verdict that comes after the reply is still written, so the relay is listed from then on.
    this.reach = new Reachability(this.config, (work) => ctx.waitUntil(work), (ip, port, reachable) => this.recordVerdict(ip, port, reachable));
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS relays (
        peer_id TEXT NOT NULL,
        family INTEGER NOT NULL,
        ip TEXT NOT NULL,
        port INTEGER NOT NULL,
        listed INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        token_key TEXT NOT NULL DEFAULT '',
        ip_group TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (peer_id, family)
      );
      CREATE INDEX IF NOT EXISTS relays_by_ip ON relays (ip);
    `);
    // A table from before tokens were minted gets the new columns; its entries (with no token key) are never
    // handed out, and are filled in by the relay's next offer, within one interval.
    const columns = new Set(ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('relays')").toArray().map((row) => row.name));
    if (!columns.has("token_key")) ctx.storage.sql.exec("ALTER TABLE relays ADD COLUMN token_key TEXT NOT NULL DEFAULT ''");
    if (!columns.has("ip_group")) ctx.storage.sql.exec("ALTER TABLE relays ADD COLUMN ip_group TEXT NOT NULL DEFAULT ''");
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS relays_by_group ON relays (ip_group)");
  }

  async offer(input: RelayOfferInput): Promise<RegistryResult<RelayOfferReply>> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM relays WHERE expires_at <= ?", now);
    const interval = this.config.intervalSeconds;
    if (input.stopped) {
      sql.exec("DELETE FROM relays WHERE peer_id = ?", input.peerId);
      return { ok: true, value: { interval, reachable: null } };
    }
    const family = familyOf(input.ip);
    const existing = sql.exec<RelayRow>("SELECT * FROM relays WHERE peer_id = ? AND family = ?", input.peerId, family).toArray()[0];
    if (existing === undefined && this.count("SELECT COUNT(*) AS n FROM relays") >= MAX_RELAYS) return { ok: false, code: "relays_full" };
    const group = addressGroup(input.ip);
    if (existing?.ip_group !== group && this.count("SELECT COUNT(*) AS n FROM relays WHERE ip_group = ?", group) >= MAX_RELAYS_PER_ADDRESS) {
      return { ok: false, code: "address_limit" };
    }
    // Written before the dial is awaited, so that offers arriving meanwhile see this entry in the caps.
    sql.exec(
      `INSERT INTO relays (peer_id, family, ip, port, listed, expires_at, token_key, ip_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (peer_id, family) DO UPDATE SET ip = excluded.ip, port = excluded.port, listed = excluded.listed,
         expires_at = excluded.expires_at, token_key = excluded.token_key, ip_group = excluded.ip_group`,
      input.peerId,
      family,
      input.ip,
      input.port,
      this.config.dialBack ? (this.reach.known(input.ip, input.port, now) === true ? 1 : 0) : 1,
      now + (interval + this.config.graceSeconds) * 1000,
      input.tokenKey,
      group,
    );
    const reachable = await this.reach.check(input.ip, input.port, input.ip, now);
    if (reachable !== null) this.recordVerdict(input.ip, input.port, reachable);
    return { ok: true, value: { interval, reachable } };
  }

  /** A relay for an asker of `askerFamily` and a peer of `targetFamily`, at neither's address; null if none. */
  pick(askerFamily: Family, targetFamily: Family, exclude: string[]): RelayChoice | null {
    const rows = this.ctx.storage.sql
      .exec<RelayRow>("SELECT peer_id, family, ip, port, token_key FROM relays WHERE listed = 1 AND expires_at > ? AND token_key != ''", Date.now())
      .toArray();
    const relays: ListedRelay[] = rows.map((row) => ({ peerId: row.peer_id, family: row.family === 6 ? 6 : 4, ip: row.ip, port: row.port, tokenKey: row.token_key }));
    return pickRelay(relays, askerFamily, targetFamily, exclude);
  }

  /** Dial-backs started by this object since it was loaded: for tests and the operator. */
  dialsStarted(): number {
    return this.reach.started;
  }

  private recordVerdict(ip: string, port: number, reachable: boolean): void {
    if (!this.config.dialBack) return;
    this.ctx.storage.sql.exec("UPDATE relays SET listed = ? WHERE ip = ? AND port = ?", reachable ? 1 : 0, ip, port);
  }

  private count(query: string, ...bindings: SqlStorageValue[]): number {
    return this.ctx.storage.sql.exec<{ n: number }>(query, ...bindings).one().n;
  }
}
