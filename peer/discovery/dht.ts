import DHT from "bittorrent-dht";
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdir } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { hostPort } from "../../common/ip.js";
import type { FoundPeer } from "../sources/candidate-table.js";
import { mayPointAt } from "../sources/address-scope.js";
import { dialable, validPort } from "../sources/peer-address.js";
import { orAfter } from "../time-limit.js";
import type { PeerSource } from "../sources/peer-finder.js";
import { AnnounceSchedule, DEFAULT_SCHEDULE, type ScheduleTiming } from "./dht/announce-schedule.js";
import { guardedSocket, guardIncoming, type PacketCounts } from "./dht/guarded-socket.js";
import { inReach, reachOf, type PacketRules } from "./dht/krpc-check.js";
import { loadRouting, ROUTING_FILE, saveRouting } from "./dht/routing-file.js";
import type { Discovery, DiscoveryContext, DiscoveryStatus } from "./discovery.js";

/**
 * The mainline DHT (BEP 5) as a discovery, through bittorrent-dht: the daemon announces each file it shares
 * under the file's DHT key at its public HTTP port, and downloads look the key up. The key is namespaced
 * (`dhtKey`), so that no BitTorrent client takes it for a torrent and none of ours for one of theirs.
 * The library runs behind guarded-socket.ts (every packet checked both ways, BEP 43 read-only when nothing is
 * served); its routing table is kept in `<dataDir>/dht.json`.
 */

/** The namespace of the DHT keys: a file's key is SHA-1(`p2p-share:v1:` + its SHA-1 in lowercase hex). */
export const DHT_KEY_PREFIX = "p2p-share:v1:";

export function dhtKey(sha1: string): Buffer {
  return createHash("sha1").update(`${DHT_KEY_PREFIX}${sha1.toLowerCase()}`, "utf8").digest();
}

export interface DhtLimits {
  /** Files announced at most (the rest are served, but not announced to the DHT). */
  files: number;
  /** Announces on their way at once. */
  announcing: number;
  /** Distinct look-ups on their way at once; more are refused (the download asks again later). */
  lookups: number;
  /** Peers one look-up returns at most. */
  peersPerLookup: number;
}

export const DEFAULT_DHT_LIMITS: DhtLimits = { files: 1000, announcing: 4, lookups: 16, peersPerLookup: 50 };

/** The library's own tables, capped: look-up tables, BEP 44 values others store here, peers others announce. */
const LIBRARY_CAPS = { maxTables: 200, maxValues: 100, maxPeers: 5000, maxAge: 30 * 60_000 };
const PUMP_MS = 15_000;
const SAVE_MS = 10 * 60_000;

export interface DhtSettings {
  /** The UDP port; null for the public port's number (0, any, for a download without a daemon). */
  port: number | null;
  bootstrap: string[];
  schedule?: ScheduleTiming;
  limits?: DhtLimits;
}

/** Joins the DHT: resolves once the socket listens (joining goes on behind); rejects if it cannot listen. */
export async function startDht(settings: DhtSettings, context: DiscoveryContext): Promise<Discovery> {
  const host = context.host === "" || context.host === "::" || context.host === "0.0.0.0" ? "0.0.0.0" : context.host;
  if (isIP(host) !== 4) throw new Error(`the DHT speaks IPv4 only, and ${context.host} is not an IPv4 address: pass --no-dht, or --host with one`);
  const bootstrap = settings.bootstrap.filter((node) => !node.startsWith("["));
  if (bootstrap.length < settings.bootstrap.length) context.log("DHT: IPv6 bootstrap nodes are left out (the DHT speaks IPv4 only)");
  if (bootstrap.length === 0) throw new Error("the DHT has no bootstrap node to join through: pass --dht-bootstrap host:port, or --no-dht");
  const rules: PacketRules = { reach: reachOf(bootstrap), readOnly: context.publicPort === null };
  const routingPath = join(context.dataDir, ROUTING_FILE);
  const routing = await loadRouting(routingPath, rules);
  const counts: PacketCounts = { dropped: 0, failed: 0, refused: 0, lastDrop: null };
  const socket = guardedSocket(rules, counts);
  const dht = new DHT({ bootstrap, socket, ...(routing.nodeId === null ? {} : { nodeId: routing.nodeId }), ...LIBRARY_CAPS });
  guardIncoming(socket, rules, counts);
  const port = settings.port ?? context.publicPort ?? 0;
  // In the same tick as the constructor: the library starts joining on the next one, and its first send would
  // otherwise bind the socket to any port.
  const listening = new Promise<void>((resolve, reject) => {
    dht.once("listening", resolve);
    dht.once("error", reject);
  });
  dht.listen(port, host);
  for (const node of routing.nodes) dht.addNode(node);
  try {
    await listening;
  } catch (error) {
    await new Promise<void>((resolve) => dht.destroy(() => resolve()));
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`the DHT cannot listen on UDP ${hostPort(host, port)}${code === "EADDRINUSE" ? " (in use: pass --dht-port)" : ""}: ${(error as Error).message}`);
  }
  const discovery = new DhtDiscovery(dht, rules, counts, routingPath, context, settings.schedule ?? DEFAULT_SCHEDULE, settings.limits ?? DEFAULT_DHT_LIMITS);
  const bound = dht.address();
  // A daemon says where its DHT is; a download without one (read-only, for seconds) says nothing.
  if (!rules.readOnly) {
    context.log(`DHT on UDP ${hostPort(bound.address, bound.port)}, joining through ${bootstrap.join(", ")}${routing.nodes.length > 0 ? ` and ${routing.nodes.length} saved nodes` : ""}`);
  }
  return discovery;
}

class DhtDiscovery implements Discovery {
  readonly name = "dht";
  readonly source: PeerSource;
  private readonly schedule: AnnounceSchedule;
  /** Files published beyond the schedule's limit. */
  private readonly left = new Set<string>();
  /** The look-ups on their way, by key (hex): one per file, shared by the downloads asking. */
  private readonly lookups = new Map<string, Lookup>();
  private readonly closing = new AbortController();
  private readonly joined: Promise<void>;
  private announcing = 0;
  /** It serves files (a daemon): it announces them; a download without a daemon only looks up. */
  private readonly serving: boolean;
  /** The port announced: the public port, or the router's mapping of it once there is one. */
  private announcePort: number | null;
  private lastError: string | null = null;
  private closed: Promise<void> | null = null;
  private readonly timers: NodeJS.Timeout[];

  constructor(
    private readonly dht: DHT,
    private readonly rules: PacketRules,
    private readonly counts: PacketCounts,
    private readonly routingPath: string,
    private readonly context: DiscoveryContext,
    timing: ScheduleTiming,
    private readonly limits: DhtLimits,
  ) {
    this.schedule = new AnnounceSchedule(limits.files, timing);
    this.announcePort = context.publicPort;
    this.serving = context.publicPort !== null;
    // Each look-up on its way and each download asking listens for the close: more than Node's default 10.
    setMaxListeners(4 * limits.lookups + 16, this.closing.signal);
    // A DHT look-up that finds nobody is only what it found so far: a download waits (--wait) and asks again.
    this.source = { name: "dht", final: false, find: (sha1, signal) => this.find(sha1, signal) };
    this.joined = new Promise<void>((resolve) => {
      if (dht.ready) resolve();
      else dht.once("ready", () => resolve());
    });
    void this.joined.then(() => this.pump());
    // Later socket errors (EACCES on a send, say) are the library's to retry; they show in status().
    dht.on("error", (error: Error) => (this.lastError = error.message));
    // One listener for every look-up (a listener each would pass Node's limit of 10 with 16 look-ups).
    dht.on("peer", (peer: { host: string; port: number }, infoHash: Buffer, from: { address?: string; host?: string } | null) => this.onPeer(peer, infoHash, from));
    this.timers = [setInterval(() => this.pump(), PUMP_MS), setInterval(() => void this.save(), SAVE_MS)];
    for (const timer of this.timers) timer.unref();
  }

  publish(sha1: string): void {
    if (this.closed !== null || !this.serving) return;
    if (!this.schedule.add(sha1, Date.now())) {
      this.left.add(sha1);
      return;
    }
    this.pump();
  }

  unpublish(sha1: string): void {
    // What was announced expires on the nodes that hold it (they forget a peer in about 30 minutes).
    this.schedule.remove(sha1);
    this.left.delete(sha1);
  }

  status(): DiscoveryStatus {
    const nodes = this.dht.toJSON().nodes.length;
    const parts = [`${nodes} node${nodes === 1 ? "" : "s"}`];
    if (!this.serving) parts.push("read-only (nothing served here to announce)");
    else parts.push(`${this.schedule.announced} of ${this.schedule.size + this.left.size} files announced${this.rules.readOnly ? "; read-only: a tracker found this daemon unreachable from outside" : ""}`);
    if (this.left.size > 0) parts.push(`${this.left.size} over the limit of ${this.limits.files} not announced`);
    const bad = this.counts.dropped + this.counts.failed;
    if (bad > 0) parts.push(`${bad} bad packets dropped (last: ${this.counts.lastDrop ?? "?"})`);
    if (this.lastError !== null) parts.push(`last error: ${this.lastError}`);
    const ok = !this.dht.ready ? null : nodes > 0;
    return { name: this.name, ok, detail: ok === null ? `joining; ${parts.join(", ")}` : parts.join(", ") };
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort(new Error("the DHT is closed"));
      for (const timer of this.timers) clearInterval(timer);
      await this.save();
      await new Promise<void>((resolve) => this.dht.destroy(() => resolve()));
    })();
    return this.closed;
  }

  /** From now on, files are announced at `port` (the router's mapping of the public port), all of them at once. */
  setPort(port: number): void {
    if (!this.serving || port === this.announcePort) return;
    this.announcePort = port;
    this.schedule.dueAll(Date.now());
    this.pump();
  }

  /**
   * Whether others reach this daemon, as a tracker's dial-back found: a daemon they cannot reach answers no
   * query and marks its own read-only (BEP 43), so that nodes do not keep it in their routing tables in
   * vain; it still looks up and announces (an announce is a query). Unknown (null) changes nothing.
   */
  setReachable(reachable: boolean | null): void {
    if (!this.serving || reachable === null) return;
    this.rules.readOnly = !reachable;
  }

  /**
   * The peers the DHT names for a file within a bounded time: as soon as one is found, those that come
   * within FIND_GATHER_MS more; otherwise what the look-up found when it ends or after FIND_LIMIT_MS. The
   * recursive look-up itself runs on (a traversal of the public DHT can take tens of seconds), and the next
   * ask, by this download's next round or another's, takes what it found meanwhile.
   */
  private async find(sha1: string, signal: AbortSignal): Promise<FoundPeer[]> {
    const stop = AbortSignal.any([signal, this.closing.signal]);
    const started = Date.now();
    await untilAborted(orAfter(this.joined, FIND_LIMIT_MS, undefined), stop);
    // Not joined yet (its bootstrap nodes silent): a failure for now, which the next round asks again.
    if (!this.dht.ready || this.dht.toJSON().nodes.length === 0) throw new Error(`not joined: no DHT node answered within ${FIND_LIMIT_MS / 1000} s`);
    const key = dhtKey(sha1);
    const lookup = this.lookupOf(key);
    const left = Math.max(0, FIND_LIMIT_MS - (Date.now() - started));
    await untilAborted(lookup.settled(left, FIND_GATHER_MS), stop);
    return [...lookup.found.values()];
  }

  /** The look-up of a key on its way, or a new one; throws when FIND_LIMIT of them are already running. */
  private lookupOf(key: Buffer): Lookup {
    const hex = key.toString("hex");
    const running = this.lookups.get(hex);
    if (running !== undefined) return running;
    if (this.lookups.size >= this.limits.lookups) throw new Error(`the DHT is busy (${this.lookups.size} look-ups on their way)`);
    const lookup = new Lookup();
    this.lookups.set(hex, lookup);
    const end = (): void => {
      this.closing.signal.removeEventListener("abort", end);
      if (this.lookups.get(hex) === lookup) this.lookups.delete(hex);
      lookup.end();
    };
    // A destroyed DHT never ends its look-ups: closing ends them with what they found.
    this.closing.signal.addEventListener("abort", end, { once: true });
    this.dht.lookup(key, end);
    return lookup;
  }

  /** A peer some node named: kept by the look-up of its key when in reach and within the cap. */
  private onPeer(peer: { host: string; port: number }, infoHash: Buffer, from: { address?: string; host?: string } | null): void {
    const lookup = this.lookups.get(infoHash.toString("hex"));
    if (lookup === undefined || lookup.found.size >= this.limits.peersPerLookup) return;
    // A node may only name peers at least as far away as itself (a public node never names loopback), and
    // only addresses and ports one can dial.
    const by = from?.address ?? from?.host;
    if (!dialable(peer.host) || !validPort(peer.port) || !inReach(this.rules, peer.host) || (by !== undefined && !mayPointAt(by, peer.host))) return;
    lookup.add({ host: peer.host, port: peer.port, complete: false });
  }

  /** Starts the announces that are due, a few at a time, once the DHT is joined. */
  private pump(): void {
    if (this.closed !== null || !this.dht.ready) return;
    const port = this.announcePort;
    if (port === null) return;
    for (const sha1 of this.schedule.take(Date.now(), this.limits.announcing - this.announcing)) {
      this.announcing += 1;
      this.dht.announce(dhtKey(sha1), port, (error) => {
        this.announcing -= 1;
        if (error !== null) this.lastError = `announcing ${sha1}: ${error.message}`;
        this.schedule.done(sha1, error === null, Date.now());
        this.pump();
      });
    }
  }

  private async save(): Promise<void> {
    try {
      await mkdir(this.context.dataDir, { recursive: true });
      await saveRouting(this.routingPath, { nodeId: this.dht.nodeId, nodes: this.dht.toJSON().nodes });
    } catch (error) {
      this.context.log(`DHT: could not save its routing table to ${this.routingPath}: ${(error as Error).message}`);
    }
  }
}

/** How long a download's ask of the DHT lasts at most, the join included; and how long it gathers after a first peer. */
const FIND_LIMIT_MS = 3000;
const FIND_GATHER_MS = 250;

/** The peers one recursive look-up has found so far, and a way to wait for a first one. */
class Lookup {
  readonly found = new Map<string, FoundPeer>();
  private ended = false;
  private readonly waiters = new Set<() => void>();

  add(peer: FoundPeer): void {
    const key = hostPort(peer.host, peer.port);
    if (this.found.has(key)) return;
    this.found.set(key, peer);
    if (this.found.size === 1) this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Resolves `gatherMs` after the first peer (at once if found earlier), when the look-up ends, or after `limitMs`. */
  settled(limitMs: number, gatherMs: number): Promise<void> {
    return new Promise((resolve) => {
      let limit: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(limit);
        this.waiters.delete(first);
        resolve();
      };
      const first = (): void => {
        if (this.ended) return done();
        clearTimeout(limit);
        limit = setTimeout(done, gatherMs);
      };
      if (this.ended || this.found.size > 0) return done();
      this.waiters.add(first);
      limit = setTimeout(done, limitMs);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("the DHT look-up was ended");
}
