import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { TrackerClient as Client } from "../tracker-client/tracker-client.js";
import { isPort, normalizeIp } from "../../common/ip.js";
import { RELAY_TOKEN_PATTERN } from "../../common/rendezvous-wire.js";
import { mayPointAt } from "../sources/address-scope.js";
import { ConnectError } from "./connect-error.js";
import { Ladder, type Step } from "./ladder.js";
import { PendingHandshakes } from "./pending-handshakes.js";
import { pickLocalPort, simultaneousOpen } from "./punch.js";
import { relayConnect } from "./relay-client.js";

/**
 * The ways to a peer the tracker found unreachable (docs/architecture.md "Every pair connects"), each one
 * socket per call, ready for HTTP: reversed (the peer dials our public port; only with one that others reach),
 * punched (a TCP simultaneous open both sides aim at once, lined up by the tracker), relayed (both meet at
 * a relay the tracker picks). The tracker is the one whose rendezvous socket the peer holds.
 */

/** How long a reversed socket may take to arrive: the tracker's order, the peer's dial and its handshake. */
const REVERSE_WAIT_MS = 6_000;
/** Both sides aim for this long; a NAT that keeps ports lets the first or second attempt through. */
const PUNCH_MS = 6_000;
const HANDSHAKE_MS = 5_000;
/** The relay waits up to 10 s for the peer's side; a little more here. */
const RELAY_MS = 12_000;

export interface StepContext {
  peerId: string;
  tracker: Client;
  handshakes: PendingHandshakes;
  localAddress?: string;
  /**
   * The public port others reach this daemon on, when this is a daemon that the tracker did not find
   * unreachable; null: no reversal (a download without a daemon, or one behind a router that drops dials).
   */
  reversalPort: () => number | null;
}

function nonce(): string {
  return randomBytes(16).toString("hex");
}


/**
 * Where a tracker's punch or relay reply says to connect, checked before any connection: an IP address (no
 * name is looked up), a real port, and no wider in reach than the tracker's own address allows
 * (sources/address-scope.ts): a tracker on the internet, a share link's say, cannot aim this machine at its
 * own loopback or local network. The sharer's side checks its orders the same way (rendezvous-order.ts).
 */
export function checkTarget(tracker: string, ip: unknown, port: unknown): { ip: string; port: number } {
  const address = typeof ip === "string" ? normalizeIp(ip) : null;
  if (address === null) throw new ConnectError("BAD_TARGET", `the tracker ${tracker} named ${JSON.stringify(ip)}, not an IP address`);
  if (!isPort(port)) throw new ConnectError("BAD_TARGET", `the tracker ${tracker} named port ${JSON.stringify(port)}`);
  const trackerHost = new URL(tracker).hostname.replace(/^\[(.*)\]$/, "$1");
  if (!mayPointAt(trackerHost, address)) throw new ConnectError("BAD_TARGET", `the tracker ${tracker} may not send this machine to ${address}`);
  return { ip: address, port };
}

export function reachSteps(context: StepContext): Step[] {
  const { peerId, tracker, handshakes } = context;
  const reversed: Step = {
    path: "reversed",
    open: async (signal) => {
      const port = context.reversalPort();
      if (port === null) throw new Error("this machine is not reachable from outside, so the peer cannot dial it");
      const secret = nonce();
      // The wait is given up with the order when the tracker refuses it (the peer is not connected, say).
      const given = new AbortController();
      const arriving = handshakes.expect(peerId, secret, REVERSE_WAIT_MS, signal === undefined ? given.signal : AbortSignal.any([signal, given.signal]));
      arriving.catch(() => undefined);
      try {
        await tracker.reverse(peerId, { port, nonce: secret }, signal);
      } catch (error) {
        given.abort();
        throw error;
      }
      return arriving;
    },
  };
  const punched: Step = {
    path: "punched",
    open: async (signal) => {
      const localPort = await pickLocalPort(context.localAddress);
      const secret = nonce();
      const reply = await tracker.punch(peerId, { port: localPort, nonce: secret }, signal);
      const there = checkTarget(tracker.baseUrl, reply.ip, reply.port);
      const socket: Socket = await simultaneousOpen({
        localPort,
        ip: there.ip,
        port: there.port,
        deadlineMs: PUNCH_MS,
        ...(context.localAddress === undefined ? {} : { localAddress: context.localAddress }),
        ...(signal === undefined ? {} : { signal }),
      });
      return handshakes.acceptOn(socket, peerId, secret, HANDSHAKE_MS, signal);
    },
  };
  const relayed: Step = {
    path: "relayed",
    open: async (signal) => {
      const reply = await tracker.relay(peerId, signal);
      const meet = checkTarget(tracker.baseUrl, reply.ip, reply.port);
      if (typeof reply.token !== "string" || !RELAY_TOKEN_PATTERN.test(reply.token)) throw new ConnectError("BAD_TARGET", `the tracker ${tracker.baseUrl} sent a malformed relay token`);
      return relayConnect({
        ip: meet.ip,
        port: meet.port,
        token: reply.token,
        role: "connect",
        timeoutMs: RELAY_MS,
        ...(context.localAddress === undefined ? {} : { localAddress: context.localAddress }),
        ...(signal === undefined ? {} : { signal }),
      });
    },
  };
  return [reversed, punched, relayed];
}

export interface LaddersOptions {
  /** Clients of the trackers known already; another (a share link's) gets one of its own. */
  trackers: readonly Client[];
  handshakes: PendingHandshakes;
  localAddress?: string;
  /** The port a reversal should dial, as each tracker sees this machine (StepContext); null: no reversal at all. */
  reversalPort: ((tracker: string) => number | null) | null;
}

/** Makes the ladder of ways to each peer a tracker found unreachable: what a download's PeerPool is given. */
export function ladders(options: LaddersOptions): (peerId: string, tracker: string) => Ladder {
  const { trackers, handshakes, localAddress, reversalPort } = options;
  return (peerId, tracker) => {
    const steps = reachSteps({
      peerId,
      tracker: trackers.find((t) => t.baseUrl === tracker) ?? new Client(tracker, localAddress),
      handshakes,
      reversalPort: () => reversalPort?.(tracker) ?? null,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    return new Ladder(reversalPort === null ? steps.filter((step) => step.path !== "reversed") : steps);
  };
}

/**
 * The ways to a peer for a download without a daemon: no public port for a reversal to arrive on, so
 * punched, then relayed, through the tracker that listed the peer.
 */
export function reachWithoutDaemon(trackers: readonly Client[], localAddress?: string): (peerId: string, tracker: string) => Ladder {
  return ladders({ trackers, handshakes: new PendingHandshakes(), reversalPort: null, ...(localAddress === undefined ? {} : { localAddress }) });
}
