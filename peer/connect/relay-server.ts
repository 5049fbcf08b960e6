import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { addressGroup, normalizeIp } from "../../common/ip.js";
import { checkRelayToken } from "../../common/relay-token.js";
import { RelayPair } from "./relay-pair.js";
import { isRefusal, isRelayUpgrade, parseRelayAsk, refusalBytes, type RelayAsk, type RelayRefusal, type RelayRole } from "./relay-upgrade.js";
import { SpentTokens } from "./spent-tokens.js";

/**
 * The relay (`p2p daemon --relay`): two peers that cannot reach one another both dial it, on its public port,
 * with the same token (handed to both by the tracker), one as `accept` (the sharer) and one as `connect`
 * (the downloader); once both are there each gets 101 and the pair is carried (relay-pair.ts). It never
 * dials anyone. Only tokens the tracker minted for this relay are taken (common/relay-token.ts: a MAC with
 * the relay's token key, and an expiry); any other gets 403 `bad_token`, so two strangers cannot agree on a
 * token of their own and use the relay as a pipe. A token makes one pair, ever. Everything it holds is
 * capped: pairs at once, pairs per address (an IPv6 address's /64), tokens waiting and how long, bytes and
 * seconds per pair; over a cap a newcomer gets a quick 503 with Retry-After, and a pair is closed.
 */

export interface RelayOptions {
  /**
   * The key the tracker mints this relay's tokens with: `relayTokenKey(identity.key)` (common/relay-token.ts),
   * 64 hex characters, from the same daemon key the relay offers itself with (`POST /v1/relays`).
   */
  tokenKey: string;
  maxPairs?: number;
  /** Pairs and waiting tokens one address (for IPv6: its /64) takes part in. */
  maxPairsPerAddress?: number;
  maxBytesPerPair?: number;
  maxSecondsPerPair?: number;
  maxWaiting?: number;
  /** How long the first of a token waits for its mate. */
  waitMs?: number;
  /** How long a relayed downloader may be silent. */
  idleMs?: number;
  log?: (line: string) => void;
}

/** For the daemon's status. `bytes` counts every byte the relay read from either side of a pair. */
export interface RelayCounters {
  waiting: number;
  pairs: number;
  pairsTotal: number;
  bytes: number;
  refused: number;
}

interface Waiting {
  role: RelayRole;
  socket: Socket;
  head: Buffer;
  address: string;
  timer: NodeJS.Timeout;
}

/** How soon a peer turned away for load may ask again. */
const RETRY_AFTER_SEC = 10;
/** A refusal is a few hundred bytes: a peer that does not take them in this long is cut off. */
const REFUSAL_GRACE_MS = 2000;
const STOPPED: RelayRefusal = { status: 503, reason: "relay_stopped", message: "this relay is stopping", retryAfterSec: RETRY_AFTER_SEC };

export class Relay {
  private readonly options: Required<Omit<RelayOptions, "log" | "tokenKey">>;
  private readonly tokenKey: string;
  private readonly log: (line: string) => void;
  private readonly waiting = new Map<string, Waiting>();
  private readonly pairs = new Map<RelayPair, string[]>();
  /** How many pairs and waiting tokens each address group (addressGroup: an IPv6 /64) takes part in. */
  private readonly perAddress = new Map<string, number>();
  private readonly spent = new SpentTokens();
  private pairsTotal = 0;
  private closedBytes = 0;
  private refused = 0;
  private closed = false;

  /** Upgrades whose token is being checked: turned away by close() too. */
  private readonly checking = new Set<Socket>();

  constructor(options: RelayOptions) {
    this.tokenKey = options.tokenKey;
    this.options = {
      maxPairs: options.maxPairs ?? 32,
      // A downloader relaying from two peers holds up to 8 pairs (4 connections to each).
      maxPairsPerAddress: options.maxPairsPerAddress ?? 8,
      maxBytesPerPair: options.maxBytesPerPair ?? 1024 ** 3,
      maxSecondsPerPair: options.maxSecondsPerPair ?? 600,
      maxWaiting: options.maxWaiting ?? 64,
      waitMs: options.waitMs ?? 10_000,
      idleMs: options.idleMs ?? 30_000,
    };
    this.log = options.log ?? (() => undefined);
  }

  /**
   * For the public server's `upgrade` event: false when the request is not for the relay (another handler
   * may take it); otherwise the socket is the relay's from now on, answered or waiting.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!isRelayUpgrade(req.headers)) return false;
    const tcp = socket as Socket;
    tcp.on("error", () => undefined);
    const ask = parseRelayAsk(req.method, req.headers);
    if (isRefusal(ask)) return this.refuse(tcp, ask);
    if (this.closed) return this.refuse(tcp, STOPPED);
    // Checking the MAC is asynchronous (Web Crypto); the socket is the relay's meanwhile.
    this.checking.add(tcp);
    void checkRelayToken(this.tokenKey, ask.token, Date.now()).then(
      (valid) => this.admit(tcp, head, ask, valid),
      () => this.admit(tcp, head, ask, false),
    );
    return true;
  }

  /** The rest of the door, once the token's MAC and expiry are checked. */
  private admit(tcp: Socket, head: Buffer, ask: RelayAsk, valid: boolean): void {
    if (!this.checking.delete(tcp) || tcp.destroyed) return;
    if (!valid) {
      this.refuse(tcp, { status: 403, reason: "bad_token", message: "this token was not minted for this relay by a tracker, or has expired; ask the tracker again" });
      return;
    }
    if (this.closed) {
      this.refuse(tcp, STOPPED);
      return;
    }
    if (this.spent.has(ask.token)) {
      this.refuse(tcp, { status: 410, reason: "token_used", message: "this token has been used; ask the tracker again" });
      return;
    }
    const address = addressGroup(normalizeIp(tcp.remoteAddress ?? "") ?? "unknown");
    const mate = this.waiting.get(ask.token);
    if (mate === undefined) {
      const full = this.fullFor(address, true);
      if (full !== null) {
        this.refuse(tcp, full);
        return;
      }
      this.wait(ask.token, { role: ask.role, socket: tcp, head, address });
      return;
    }
    if (mate.role === ask.role) {
      this.refuse(tcp, { status: 409, reason: "role_taken", message: `a ${ask.role} side of this token is already here` });
      return;
    }
    const full = this.fullFor(address === mate.address ? null : address, false);
    if (full !== null) {
      this.refuse(tcp, full);
      return;
    }
    this.waiting.delete(ask.token);
    clearTimeout(mate.timer);
    this.spent.add(ask.token);
    const addresses = address === mate.address ? [address] : [mate.address, address];
    if (addresses.length === 2) this.hold(address);
    const [sharer, downloader] = ask.role === "accept" ? [{ socket: tcp, head }, mate] : [mate, { socket: tcp, head }];
    const caps = { maxBytes: this.options.maxBytesPerPair, maxMs: this.options.maxSecondsPerPair * 1000, idleMs: this.options.idleMs };
    this.pairsTotal++;
    const pair = new RelayPair(downloader.socket, downloader.head, sharer.socket, sharer.head, caps, (done, why) => this.ended(done, why));
    // Listed before it starts: a start that finds a side gone closes it at once, and its addresses are freed.
    this.pairs.set(pair, addresses);
    pair.start();
  }

  counters(): RelayCounters {
    let open = 0;
    for (const pair of this.pairs.keys()) open += pair.bytes;
    return { waiting: this.waiting.size, pairs: this.pairs.size, pairsTotal: this.pairsTotal, bytes: this.closedBytes + open, refused: this.refused };
  }

  /** Closes every pair and turns away whoever waits; nothing is taken afterwards. May be called again. */
  close(): void {
    this.closed = true;
    for (const socket of [...this.checking]) {
      this.checking.delete(socket);
      this.refuse(socket, STOPPED);
    }
    for (const [token, waiting] of [...this.waiting]) {
      this.dropWaiting(token, waiting);
      this.refuse(waiting.socket, STOPPED);
    }
    for (const pair of [...this.pairs.keys()]) pair.close("the relay stopped");
  }

  /** Why a newcomer from `address` (null: already counted) is turned away for load, or null. */
  private fullFor(address: string | null, first: boolean): RelayRefusal | null {
    const busy = (message: string): RelayRefusal => ({ status: 503, reason: "relay_full", message, retryAfterSec: RETRY_AFTER_SEC });
    if (this.pairs.size >= this.options.maxPairs) return busy("this relay carries as many pairs as it may");
    if (first && this.waiting.size >= this.options.maxWaiting) return busy("too many tokens wait here");
    if (address !== null && (this.perAddress.get(address) ?? 0) >= this.options.maxPairsPerAddress) return busy("this address takes part in as many pairs as it may");
    return null;
  }

  private wait(token: string, entry: Omit<Waiting, "timer">): void {
    const timer = setTimeout(() => {
      // The mate never came: the token is spent, so that a late one does not wait in turn.
      this.dropWaiting(token, waiting);
      this.spent.add(token);
      this.refuse(entry.socket, { status: 504, reason: "no_mate", message: "the other peer did not come in time" });
    }, this.options.waitMs);
    timer.unref();
    const waiting: Waiting = { ...entry, timer };
    this.waiting.set(token, waiting);
    this.hold(entry.address);
    // A waiting peer that leaves (or half-closes: these sockets allow it) frees its place; its token is not
    // spent (it may come back).
    const left = (): void => {
      if (this.waiting.get(token) !== waiting) return;
      this.dropWaiting(token, waiting);
      entry.socket.destroy();
    };
    entry.socket.once("end", left);
    entry.socket.once("close", left);
  }

  private dropWaiting(token: string, waiting: Waiting): void {
    clearTimeout(waiting.timer);
    this.waiting.delete(token);
    this.release(waiting.address);
  }

  private ended(pair: RelayPair, why: string): void {
    const addresses = this.pairs.get(pair);
    this.pairs.delete(pair);
    for (const address of addresses ?? []) this.release(address);
    this.closedBytes += pair.bytes;
    this.refused += pair.refused;
    this.log(`relay pair closed (${why}) after ${pair.bytes} bytes`);
  }

  private hold(address: string): void {
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
  }

  private release(address: string): void {
    const left = (this.perAddress.get(address) ?? 0) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }

  private refuse(socket: Socket, refusal: RelayRefusal): true {
    this.refused++;
    if (socket.writable) socket.end(refusalBytes(refusal), () => socket.destroy());
    const cutoff = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
    cutoff.unref();
    socket.once("close", () => clearTimeout(cutoff));
    return true;
  }
}
