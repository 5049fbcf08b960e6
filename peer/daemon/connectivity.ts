import type { IncomingMessage, Server } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { RendezvousAnswer, RendezvousOrder } from "../../common/rendezvous-wire.js";
import type { Ladder } from "../connect/ladder.js";
import { offerHandshake } from "../connect/offer-handshake.js";
import { PendingHandshakes } from "../connect/pending-handshakes.js";
import { pickLocalPort, simultaneousOpen } from "../connect/punch.js";
import { relayConnect } from "../connect/relay-client.js";
import { RelayOffers, type RelayOfferHealth, type RelayTracker } from "../connect/relay-offer.js";
import { Relay, type RelayCounters, type RelayOptions } from "../connect/relay-server.js";
import { RendezvousSocket, type RendezvousStatus } from "../connect/rendezvous-socket.js";
import { ladders } from "../connect/steps.js";
import { servePeerSocket } from "../server/public-server.js";
import { mayPointAt } from "../sources/address-scope.js";
import type { TrackerClient } from "../tracker-client/tracker-client.js";
import type { Identity } from "./identity.js";

/**
 * Everything a daemon does so that every pair of peers connects (docs/architecture.md "Every pair
 * connects"), kept out of the scheduler and the servers, which only see sockets:
 * - unreachable (a tracker's dial-back failed): holds that tracker's rendezvous socket and carries out its
 *   orders, each ending in a socket handed to the public server as if it had been accepted;
 * - downloading: the ladder of ways to a peer a tracker found unreachable, with the handshakes it awaits;
 * - with `--relay`: the relay on the public port, offered to every tracker.
 */

/** The dial and the handshake of a reversed or punched socket. */
const HANDSHAKE_MS = 5_000;
const PUNCH_MS = 6_000;
const RELAY_MS = 15_000;

export interface ConnectStatus {
  rendezvous: RendezvousStatus[];
  relay: (RelayCounters & { offered: RelayOfferHealth[] }) | null;
}

export interface ConnectivityOptions {
  identity: Identity;
  trackers: readonly TrackerClient[];
  /** Each tracker with a client for `stopped` (a short time limit), for the relay's offers. */
  relayTrackers: RelayTracker[];
  server: Server;
  /** The port trackers record for this daemon (its own; setPort when a router maps it). */
  publicPort: number;
  localAddress?: string;
  /** `--relay`: the caps of the relay this daemon runs; null without. */
  relay: RelayOptions | null;
  log: (line: string) => void;
}

export class Connectivity {
  readonly handshakes = new PendingHandshakes();
  private readonly sockets = new Map<string, RendezvousSocket>();
  private readonly relay: Relay | null;
  private readonly offers: RelayOffers | null;
  /** Sockets of orders still on their way to the public server: ended by close(). */
  private readonly inFlight = new Set<Socket>();
  private closed = false;
  /** Aborted by close(): punches and relay connections on their way give up at once. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: ConnectivityOptions) {
    this.relay = options.relay === null ? null : new Relay({ ...options.relay, log: options.log });
    this.offers = this.relay === null ? null : new RelayOffers(options.relayTrackers, options.identity, options.publicPort, { log: options.log });
    void this.offers?.start();
  }

  /** The port others reach this daemon on changed (its router mapped it): the relay is offered with it. */
  setPort(port: number): void {
    this.offers?.setPort(port);
  }

  /** The public server's `upgrade` hook: a reversed peer's handshake, or a relay's customers. */
  readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean =>
    this.handshakes.upgrade(req, socket, head) || (this.relay?.handleUpgrade(req, socket, head) ?? false);

  /**
   * Each tracker's latest word on this daemon (its dial-backs, per address family): a tracker that found it
   * unreachable, and none of its families reachable, gets a rendezvous socket; one that reaches it does not.
   */
  noteVerdicts(verdicts: readonly { url: string; reachable: boolean | null }[]): void {
    if (this.closed) return;
    const byTracker = new Map<string, (boolean | null)[]>();
    for (const { url, reachable } of verdicts) byTracker.set(url, [...(byTracker.get(url) ?? []), reachable]);
    for (const [url, said] of byTracker) {
      const wanted = said.includes(false) && !said.includes(true);
      const held = this.sockets.get(url);
      if (wanted && held === undefined) {
        const socket = new RendezvousSocket(url, this.options.identity, (order, answer) => this.carryOut(url, order, answer));
        this.sockets.set(url, socket);
        socket.start();
        this.options.log(`${url} cannot reach this daemon: holding a rendezvous socket there, so that peers can ask it to connect out`);
      } else if (!wanted && held !== undefined && said.includes(true)) {
        held.stop();
        this.sockets.delete(url);
      }
    }
  }

  /**
   * How the daemon's downloads reach a peer a tracker found unreachable: reversed when this daemon is not
   * known to be unreachable itself (`reversalPort`, per tracker), else punched, else relayed.
   */
  ladders(reversalPort: (tracker: string) => number | null): (peerId: string, tracker: string) => Ladder {
    return ladders({
      trackers: this.options.trackers,
      handshakes: this.handshakes,
      reversalPort,
      ...(this.options.localAddress === undefined ? {} : { localAddress: this.options.localAddress }),
    });
  }

  status(): ConnectStatus {
    return {
      rendezvous: [...this.sockets.values()].map((socket) => socket.status()),
      relay: this.relay === null ? null : { ...this.relay.counters(), offered: this.offers?.status() ?? [] },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    for (const socket of this.sockets.values()) socket.stop();
    this.sockets.clear();
    this.handshakes.close();
    for (const socket of this.inFlight) socket.destroy();
    this.relay?.close();
    await this.offers?.stop();
  }

  /** One order from `tracker`: a socket out, its handshake, then the public server serves it. */
  private async carryOut(tracker: string, order: RendezvousOrder, answer: (reply: RendezvousAnswer) => void): Promise<void> {
    // The tracker names the asker's own address; still, a tracker on the internet cannot aim this daemon
    // at its own machine or local network (address-scope.ts).
    const trackerHost = new URL(tracker).hostname.replace(/^\[(.*)\]$/, "$1");
    if (this.closed || !mayPointAt(trackerHost, order.ip)) {
      answer({ type: "refused", id: order.id, reason: this.closed ? "stopping" : "address out of the tracker's reach" });
      return;
    }
    const { identity, localAddress, server } = this.options;
    let socket: Socket | null = null;
    try {
      switch (order.type) {
        case "reverse": {
          // offerHandshake waits for the connection too, within its time limit.
          socket = this.track(connect({ host: order.ip, port: order.port, ...(localAddress === undefined ? {} : { localAddress }) }));
          await offerHandshake(socket, { nonce: order.nonce, peerId: identity.peerId }, HANDSHAKE_MS);
          break;
        }
        case "punch": {
          const localPort = await pickLocalPort(localAddress);
          answer({ type: "punch-ready", id: order.id, port: localPort });
          socket = this.track(
            await simultaneousOpen({ localPort, ip: order.ip, port: order.port, deadlineMs: PUNCH_MS, signal: this.stopping.signal, ...(localAddress === undefined ? {} : { localAddress }) }),
          );
          await offerHandshake(socket, { nonce: order.nonce, peerId: identity.peerId }, HANDSHAKE_MS);
          break;
        }
        case "relay":
          socket = this.track(
            await relayConnect({ ip: order.ip, port: order.port, token: order.token, role: "accept", timeoutMs: RELAY_MS, signal: this.stopping.signal, ...(localAddress === undefined ? {} : { localAddress }) }),
          );
          break;
      }
      this.inFlight.delete(socket);
      if (this.closed) socket.destroy();
      else servePeerSocket(server, socket);
    } catch (error) {
      if (socket !== null) {
        this.inFlight.delete(socket);
        socket.destroy();
      }
      this.options.log(`could not carry out the tracker's ${order.type} order towards ${order.ip}:${order.port}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private track(socket: Socket): Socket {
    this.inFlight.add(socket);
    return socket;
  }
}
