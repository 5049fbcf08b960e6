import WebSocket from "ws";
import { MAX_FRAME_BYTES, type RendezvousAnswer, type RendezvousOrder } from "../../common/rendezvous-wire.js";
import type { Identity } from "../daemon/identity.js";
import { parseOrder } from "./rendezvous-order.js";

/**
 * The WebSocket an unreachable daemon keeps open to one tracker's rendezvous object (docs/protocol.md §1.4),
 * over which the tracker tells it to connect out: reverse, punch or meet at a relay. It pings every
 * PING_MS (the tracker answers without waking its object; the ping also keeps the home router's mapping of
 * the connection alive), reconnects with backoff when the socket drops, and carries out at most
 * MAX_ORDERS_AT_ONCE orders at a time, refusing the rest: a tracker cannot make it dial without bound.
 */

const PING_MS = 25_000;
const HANDSHAKE_MS = 10_000;
const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;
/** Open this long, the next drop starts its backoff from the bottom again. */
const STABLE_MS = 30_000;
const MAX_ORDERS_AT_ONCE = 16;

export type RendezvousState = "connecting" | "open" | "waiting" | "refused" | "stopped";

export interface RendezvousStatus {
  tracker: string;
  state: RendezvousState;
  /** Orders carried out since the daemon started, by type. */
  orders: Record<RendezvousOrder["type"], number>;
  lastError: string | null;
}

/** Carries out one order; `answer` sends a reply over the socket (a punch's local port). */
export type OrderHandler = (order: RendezvousOrder, answer: (reply: RendezvousAnswer) => void) => Promise<void>;

export function socketUrl(trackerUrl: string, peerId: string): string {
  const url = new URL(`/v1/peers/${encodeURIComponent(peerId)}/socket`, trackerUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export class RendezvousSocket {
  private socket: WebSocket | null = null;
  private state: RendezvousState = "stopped";
  private lastError: string | null = null;
  private backoff = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | null = null;
  private ping: NodeJS.Timeout | null = null;
  private answered = true;
  private openedAt = 0;
  private running = 0;
  private readonly counts: Record<RendezvousOrder["type"], number> = { reverse: 0, punch: 0, relay: 0 };

  constructor(
    readonly tracker: string,
    private readonly identity: Identity,
    private readonly onOrder: OrderHandler,
    private readonly pingMs = PING_MS,
  ) {}

  start(): void {
    if (this.state !== "stopped") return;
    this.connect();
  }

  status(): RendezvousStatus {
    return { tracker: this.tracker, state: this.state, orders: { ...this.counts }, lastError: this.lastError };
  }

  stop(): void {
    this.state = "stopped";
    if (this.retry !== null) clearTimeout(this.retry);
    if (this.ping !== null) clearInterval(this.ping);
    this.retry = this.ping = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.removeAllListeners();
      socket.on("error", () => undefined);
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "stopping");
      else socket.terminate();
    }
  }

  private connect(): void {
    this.state = "connecting";
    const socket = new WebSocket(socketUrl(this.tracker, this.identity.peerId), {
      headers: { authorization: `Bearer ${this.identity.key}` },
      handshakeTimeout: HANDSHAKE_MS,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      followRedirects: false,
    });
    this.socket = socket;
    socket.on("open", () => {
      this.state = "open";
      this.lastError = null;
      this.openedAt = Date.now();
      this.answered = true;
      this.ping = setInterval(() => this.keepAlive(), this.pingMs);
    });
    socket.on("message", (data, isBinary) => {
      if (isBinary) return;
      const text = Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.concat(data as Buffer[]).toString("utf8");
      if (text === "pong") {
        this.answered = true;
        return;
      }
      const order = parseOrder(text);
      if (order !== null) this.carryOut(order, socket);
    });
    socket.on("unexpected-response", (_req, res) => {
      // 403: this key does not own the id; nothing will change by trying again soon.
      this.lastError = `the tracker refused the socket (HTTP ${res.statusCode ?? 0})`;
      if (res.statusCode === 403) this.state = "refused";
      res.resume();
      socket.terminate();
    });
    socket.on("error", (error) => {
      this.lastError = error.message;
    });
    socket.on("close", (code) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.ping !== null) clearInterval(this.ping);
      this.ping = null;
      if (this.state === "stopped") return;
      if (code === 4000) this.lastError = "another connection with this peer id replaced this one";
      const refused = this.state === "refused";
      if (Date.now() - this.openedAt > STABLE_MS) this.backoff = MIN_BACKOFF_MS;
      const wait = refused ? MAX_BACKOFF_MS : this.backoff * (0.75 + Math.random() / 2);
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
      if (!refused) this.state = "waiting";
      this.retry = setTimeout(() => {
        this.retry = null;
        if (this.state !== "stopped") this.connect();
      }, wait);
    });
  }

  private keepAlive(): void {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return;
    // No pong to the last ping: the connection is dead somewhere on the way; start again.
    if (!this.answered) {
      this.lastError = "the tracker stopped answering pings";
      socket.terminate();
      return;
    }
    this.answered = false;
    socket.send("ping");
  }

  private carryOut(order: RendezvousOrder, socket: WebSocket): void {
    const answer = (reply: RendezvousAnswer): void => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(reply));
    };
    if (this.running >= MAX_ORDERS_AT_ONCE) {
      answer({ type: "refused", id: order.id, reason: "busy" });
      return;
    }
    this.running++;
    this.counts[order.type]++;
    this.onOrder(order, answer)
      .catch(() => undefined)
      .finally(() => this.running--);
  }
}
