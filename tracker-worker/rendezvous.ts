import { DurableObject } from "cloudflare:workers";
import {
  PUNCH_READY_WAIT_MS,
  SOCKET_BAD_FRAMES,
  SOCKET_REPLACED,
  type PunchReply,
  type RendezvousAnswer,
  type RendezvousOrder,
  type ReverseReply,
} from "../common/rendezvous-wire.js";
import { addressGroup } from "../common/ip.js";
import { parseAnswer } from "./answer-frame.js";
import { KeyedWindowCounter, WindowCounter } from "./window-counter.js";

/**
 * One peer's rendezvous point: a Durable Object per peer id (idFromName) that holds the WebSocket the peer
 * keeps open to the tracker and passes it orders (docs/protocol.md §1.4). The Hibernation API lets the runtime
 * evict the object between events while the socket stays open, so an idle peer costs no duration; the text
 * `ping` is answered `pong` by the runtime without waking it. What must survive hibernation (the connection's
 * address, the count of bad frames) is in the socket's attachment; what lives only while a request is in
 * flight (a punch waiting for its answer) is in memory, which is safe because the object stays awake then.
 *
 * The Worker (rendezvous-routes.ts) has checked the key and the input; replies are plain results, not thrown
 * errors, because a class does not survive the RPC boundary.
 */

/** Set by the Worker on the upgrade it forwards: the connection's address, which the object cannot see itself. */
export const ADDRESS_HEADER = "P2P-Connection-Address";

/** Orders one peer is sent per window: enough for a busy downloader's retries, too few to flood the peer. */
export const ORDERS_PER_WINDOW = 60;
/**
 * Of those, what one asker (an address; for IPv6 its /64) may have sent: checked first, so that a stranger
 * who asks again and again spends only its own share and the peer's other downloaders still get through.
 * A downloader asks for at most 4 sockets to one peer at once, the first trying up to three ways (reverse,
 * punch, relay) and the rest the one that worked: 6 orders, and as many again for sockets the peer closed.
 */
export const ORDERS_PER_ASKER = 12;
const ORDER_WINDOW_MS = 10_000;
/** Bad frames a socket may send before it is closed: a bug gets a few, a flood gets the door. */
const MAX_BAD_FRAMES = 5;

interface Attachment {
  ip: string;
  badFrames: number;
}

export type RendezvousRefusal =
  | { ok: false; code: "peer_offline" | "peer_silent" }
  | { ok: false; code: "peer_refused"; reason: string }
  | { ok: false; code: "order_limit"; retryAfter: number };
export type RendezvousResult<T> = { ok: true; value: T } | RendezvousRefusal;

export class Rendezvous extends DurableObject<Env> {
  /** Soft state: a hibernated object has been idle for longer than the window anyway. */
  private readonly orders = new WindowCounter(ORDERS_PER_WINDOW, ORDER_WINDOW_MS);
  private readonly ordersByAsker = new KeyedWindowCounter(ORDERS_PER_ASKER, ORDER_WINDOW_MS);
  /** Punch orders waiting for their answer, by order id; null: the socket went away. */
  private readonly waiting = new Map<string, (answer: RendezvousAnswer | null) => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** The WebSocket upgrade, forwarded by the Worker once the key matched the id. */
  override fetch(request: Request): Response {
    const ip = request.headers.get(ADDRESS_HEADER);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || ip === null) {
      return new Response("expected a WebSocket upgrade from the tracker's Worker", { status: 400 });
    }
    // One socket per peer: the newest is the peer as it is now (a restarted daemon, a new address).
    for (const older of this.ctx.getWebSockets()) {
      try {
        older.close(SOCKET_REPLACED, "replaced by a newer socket");
      } catch {
        // Already closing.
      }
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ ip, badFrames: 0 } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const answer = parseAnswer(message);
    if (answer === null) {
      const attachment = ws.deserializeAttachment() as Attachment;
      attachment.badFrames += 1;
      ws.serializeAttachment(attachment);
      if (attachment.badFrames > MAX_BAD_FRAMES) ws.close(SOCKET_BAD_FRAMES, "too many bad frames");
      return;
    }
    // Order ids are 128 random bits sent only on the current socket, so only it can name a waiting order; an
    // answer for an order nobody waits for (late, or never sent) is dropped without counting as bad.
    this.waiting.get(answer.id)?.(answer);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      // Completes the closing handshake where the runtime does not do it for us.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
    this.releaseIfOffline();
  }

  override webSocketError(): void {
    this.releaseIfOffline();
  }

  /** The connection address of the peer's socket, or null when it holds none. */
  address(): string | null {
    const ws = this.socket();
    return ws === null ? null : (ws.deserializeAttachment() as Attachment).ip;
  }

  /** Sends a reverse or relay order, asked for by `asker` (the asking connection's address). */
  order(order: RendezvousOrder, asker: string): RendezvousResult<ReverseReply> {
    const ws = this.socket();
    if (ws === null) return { ok: false, code: "peer_offline" };
    const now = Date.now();
    // The asker's share first: one over it never touches the peer's budget, which all askers share.
    const wait = this.ordersByAsker.take(addressGroup(asker), now) || this.orders.take(now);
    if (wait > 0) return { ok: false, code: "order_limit", retryAfter: wait };
    try {
      ws.send(JSON.stringify(order));
    } catch {
      return { ok: false, code: "peer_offline" };
    }
    return { ok: true, value: { sent: true } };
  }

  /** Sends a punch order and waits up to PUNCH_READY_WAIT_MS for the peer's punch-ready with the same id. */
  async punch(order: Extract<RendezvousOrder, { type: "punch" }>, asker: string): Promise<RendezvousResult<PunchReply>> {
    const answer = new Promise<RendezvousAnswer | null | "timeout">((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), PUNCH_READY_WAIT_MS);
      this.waiting.set(order.id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    try {
      const sent = this.order(order, asker);
      if (!sent.ok) return sent;
      const got = await answer;
      const ip = this.address();
      if (got === null || ip === null) return { ok: false, code: "peer_offline" };
      if (got === "timeout") return { ok: false, code: "peer_silent" };
      if (got.type === "refused") return { ok: false, code: "peer_refused", reason: got.reason };
      return { ok: true, value: { ip, port: got.port } };
    } finally {
      this.waiting.get(order.id)?.(null);
      this.waiting.delete(order.id);
    }
  }

  private socket(): WebSocket | null {
    const open = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    return open.at(-1) ?? null;
  }

  private releaseIfOffline(): void {
    if (this.socket() !== null) return;
    for (const release of this.waiting.values()) release(null);
  }
}
