import { randomBytes } from "node:crypto";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import type { FoundPeer } from "../sources/candidate-table.js";
import type { PeerSource } from "../sources/peer-finder.js";
import type { Discovery, DiscoveryContext, DiscoveryStatus } from "./discovery.js";
import { lanHostProblem, lanInterfaces, onLocalNetwork } from "./lan-interfaces.js";
import { decodeLanMessage, encodeAnnounces, encodeQuery, LAN_GROUP, LAN_PORT } from "./lan-message.js";
import { LanPeers } from "./lan-peers.js";
import { LanSockets } from "./lan-sockets.js";

/**
 * LAN discovery: peers on one local network find each other by multicast, with no tracker and no internet
 * (as BEP 14 does, in a format of our own: lan-message.ts). A daemon announces what it serves to the group
 * now and then, and at once when it publishes a file; a downloader asks the group for a file, and every
 * sharer of it on the link announces it at once. What is heard is kept (lan-peers.ts) and found peers are
 * the datagrams' source addresses on a local network (lan-interfaces.ts), never an address a payload names.
 * The sockets are lan-sockets.ts's.
 */

export interface LanOptions {
  group: string;
  port: number;
  /** The announce of everything published, jittered ±20 %. */
  announceEveryMs: number;
  /** How long a look-up that knows nobody yet waits for answers to its query. */
  findWaitMs: number;
  /** The interfaces as os.networkInterfaces() gives them. */
  interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** Interfaces come and go (a laptop joins Wi-Fi): they are looked at again this often. */
  linkCheckMs: number;
}

const DEFAULTS: LanOptions = { group: LAN_GROUP, port: LAN_PORT, announceEveryMs: 5 * 60_000, findWaitMs: 1500, interfaces: networkInterfaces, linkCheckMs: 30_000 };
/** Publishes within this much are announced together (a starting daemon publishes every share at once). */
const PUBLISH_BATCH_MS = 100;
/** After the first answer, a look-up waits this much more for the others of the same burst. */
const GATHER_MS = 150;
/** A file is announced in answer to a query at most this often, and at most ANSWERS_PER_SECOND files a second. */
const ANSWER_GAP_MS = 1000;
const ANSWERS_PER_SECOND = 20;
/** A file is asked for at most this often (a download's look-up rounds can come quicker). */
const QUERY_GAP_MS = 500;

interface Waiter {
  sha1: string;
  heard(): void;
  end(): void;
}

export async function startLanDiscovery(context: DiscoveryContext, options: Partial<LanOptions> = {}): Promise<LanDiscovery> {
  const problem = lanHostProblem(context.host);
  if (problem !== null) throw new Error(`LAN discovery cannot run: ${problem}`);
  const settings = { ...DEFAULTS, ...options };
  // The sockets come first (a port that cannot be bound is the start's failure); what they hear goes to it.
  const to: { lan?: LanDiscovery } = {};
  const sockets = await LanSockets.open(
    settings.group,
    settings.port,
    (datagram, source) => to.lan?.receive(datagram, source),
    (message) => to.lan?.failed(message),
  );
  const lan = new LanDiscovery(context, settings, sockets);
  to.lan = lan;
  await lan.start();
  return lan;
}

export class LanDiscovery implements Discovery {
  readonly name = "lan";
  readonly source: PeerSource;
  /** Ours for this process's life: our own datagrams, looped back, are known by it. */
  private readonly id = randomBytes(8).toString("hex");
  private readonly heard = new LanPeers();
  private readonly published = new Set<string>();
  private readonly unannounced = new Set<string>();
  /** When each published file was last announced; when each file was last asked for. */
  private readonly lastSent = new Map<string, number>();
  private readonly lastAsked = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private answers = { second: 0, count: 0 };
  private ignored = 0;
  private lastError: string | null = null;
  private refreshing: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly context: DiscoveryContext,
    private readonly options: LanOptions,
    private readonly sockets: LanSockets,
  ) {
    // Peers that have not answered yet may answer late: a download that found nobody waits (--wait) and asks again.
    this.source = { name: this.name, final: false, find: (sha1, signal) => this.find(sha1, signal) };
  }

  async start(): Promise<void> {
    await this.refreshLinks();
    this.every(this.options.linkCheckMs, () => void this.refreshLinks());
    this.announceLater();
  }

  publish(sha1: string): void {
    const file = sha1.toLowerCase();
    if (this.closing !== null || this.context.publicPort === null) return;
    this.published.add(file);
    this.unannounced.add(file);
    if (this.unannounced.size === 1) {
      this.after(PUBLISH_BATCH_MS, () => {
        this.announce([...this.unannounced]);
        this.unannounced.clear();
      });
    }
  }

  unpublish(sha1: string): void {
    const file = sha1.toLowerCase();
    this.published.delete(file);
    this.unannounced.delete(file);
    this.lastSent.delete(file);
  }

  status(): DiscoveryStatus {
    const where = `${this.options.group}:${this.options.port}`;
    if (this.closing !== null) return { name: this.name, ok: false, detail: `${where}: closed` };
    const notes: string[] = [];
    if (this.ignored > 0) notes.push(`${this.ignored} datagrams ignored`);
    if (this.lastError !== null) notes.push(`last error: ${this.lastError}`);
    const interfaces = this.sockets.interfaces();
    if (interfaces.length === 0) {
      const on = /^(0\.0\.0\.0|::)$/.test(this.context.host) ? "" : ` with address ${this.context.host}`;
      return { name: this.name, ok: false, detail: [`${where}: no IPv4 network interface${on} to multicast on yet`, ...notes].join("; ") };
    }
    const on = interfaces.map((lan) => `${lan.name} (${lan.address})`).join(", ");
    const { peers, files } = this.heard.counts();
    const doing = this.context.publicPort === null ? "look-ups only" : `${this.published.size} files announced`;
    return { name: this.name, ok: true, detail: [`${where} on ${on}`, doing, `${peers} peers heard with ${files} files`, ...notes].join("; ") };
  }

  close(): Promise<void> {
    this.closing ??= this.shut();
    return this.closing;
  }

  private async shut(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of [...this.waiters]) waiter.end();
    await this.refreshing;
    await this.sockets.close();
  }

  private async find(sha1: string, signal: AbortSignal): Promise<FoundPeer[]> {
    const want = sha1.toLowerCase();
    if (this.closing !== null || this.sockets.interfaces().length === 0) return this.heard.peers(want, Date.now());
    this.ask(want);
    const known = this.heard.peers(want, Date.now());
    // Those already heard are answer enough: the query's answers join the table for the next round.
    if (known.length > 0 || signal.aborted) return known;
    return new Promise((resolve) => {
      let gathering: NodeJS.Timeout | undefined;
      const end = (): void => {
        clearTimeout(waiting);
        clearTimeout(gathering);
        signal.removeEventListener("abort", end);
        this.waiters.delete(waiter);
        resolve(this.heard.peers(want, Date.now()));
      };
      // Not unref'd, unlike the sockets and the other timers: a look-up waiting for answers is work in
      // progress (a standalone download whose tracker refused at once has nothing else keeping it alive).
      const waiter: Waiter = { sha1: want, heard: () => void (gathering ??= setTimeout(end, GATHER_MS)), end };
      const waiting = setTimeout(end, this.options.findWaitMs);
      signal.addEventListener("abort", end, { once: true });
      this.waiters.add(waiter);
    });
  }

  receive(datagram: Buffer, source: string): void {
    if (this.closing !== null) return;
    const message = decodeLanMessage(datagram);
    if (message.kind === "ignored") {
      this.ignored += 1;
      return;
    }
    if (message.id === this.id) return;
    if (!onLocalNetwork(source, this.sockets.interfaces())) {
      this.ignored += 1;
      return;
    }
    if (message.kind === "query") {
      this.answer(message.want);
      return;
    }
    const held = new Set(this.heard.heard(source, message.port, message.files, Date.now()));
    for (const waiter of this.waiters) if (held.has(waiter.sha1)) waiter.heard();
  }

  /** A query for a file we publish: announced at once, unless it just was, and only so many a second. */
  private answer(sha1: string): void {
    if (this.context.publicPort === null || !this.published.has(sha1)) return;
    const now = Date.now();
    if (now - (this.lastSent.get(sha1) ?? -Infinity) < ANSWER_GAP_MS) return;
    const second = Math.floor(now / 1000);
    if (this.answers.second !== second) this.answers = { second, count: 0 };
    if (this.answers.count >= ANSWERS_PER_SECOND) return;
    this.answers.count += 1;
    this.announce([sha1]);
  }

  private ask(sha1: string): void {
    const now = Date.now();
    if (now - (this.lastAsked.get(sha1) ?? -Infinity) < QUERY_GAP_MS) return;
    if (this.lastAsked.size >= 1000) {
      for (const [file, at] of this.lastAsked) if (now - at >= QUERY_GAP_MS) this.lastAsked.delete(file);
    }
    this.lastAsked.set(sha1, now);
    this.sockets.send(encodeQuery(this.id, sha1));
  }

  private announce(files: readonly string[]): void {
    const port = this.context.publicPort;
    const live = files.filter((file) => this.published.has(file));
    if (port === null || live.length === 0 || this.closing !== null) return;
    const now = Date.now();
    for (const file of live) this.lastSent.set(file, now);
    for (const datagram of encodeAnnounces(this.id, port, live)) this.sockets.send(datagram);
  }

  /** Everything published, now and then: a peer that joined the link since, or missed a datagram, hears it. */
  private announceLater(): void {
    const every = this.options.announceEveryMs * (0.8 + Math.random() * 0.4);
    this.after(every, () => {
      this.heard.prune(Date.now());
      this.announce([...this.published]);
      this.announceLater();
    });
  }

  failed(message: string): void {
    this.lastError = message;
  }

  /** Joins the group on every interface it should speak on now, and leaves those that are gone. */
  private refreshLinks(): Promise<void> {
    this.refreshing = this.refreshing.then(async () => {
      if (this.closing !== null) return;
      const wanted = new Map(lanInterfaces(this.options.interfaces(), this.context.host).map((lan) => [lan.address, lan]));
      for (const lan of this.sockets.interfaces()) {
        if (wanted.has(lan.address)) continue;
        await this.sockets.leave(lan.address);
        this.note(`LAN discovery: left ${lan.name} (${lan.address})`);
      }
      let added = false;
      for (const lan of wanted.values()) {
        if (this.sockets.has(lan.address)) continue;
        try {
          await this.sockets.join(lan);
        } catch (error) {
          this.lastError = `${lan.name} (${lan.address}): ${error instanceof Error ? error.message : String(error)}`;
          this.note(`LAN discovery cannot use ${this.lastError}`);
          continue;
        }
        this.note(`LAN discovery: ${this.options.group}:${this.options.port} on ${lan.name} (${lan.address})`);
        added = true;
      }
      if (added) this.announce([...this.published]);
    });
    return this.refreshing;
  }

  /** A daemon's log gets the interfaces it speaks on; a standalone download's output stays quiet. */
  private note(line: string): void {
    if (this.context.publicPort !== null) this.context.log(line);
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms).unref();
    this.timers.add(timer);
  }

  private every(ms: number, run: () => void): void {
    this.after(ms, () => {
      run();
      this.every(ms, run);
    });
  }
}
