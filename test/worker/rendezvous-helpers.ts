import { SELF } from "cloudflare:test";
import { peerIdOfKey, type RendezvousOrder } from "../../common/rendezvous-wire.js";

/** A peer as the tracker sees it: a key and the id it derives. Each test names its own, so objects never collide. */
export async function identity(name: string): Promise<{ key: string; peerId: string }> {
  const key = `key-of-${name}-${"k".repeat(16)}`;
  return { key, peerId: await peerIdOfKey(key) };
}

export interface OpenSocket {
  ws: WebSocket;
  /** The next text frame, parsed when JSON; rejects after `ms`. */
  next(ms?: number): Promise<unknown>;
  /** Resolves with the close code. */
  closed: Promise<number>;
}

export function upgrade(peerId: string, key: string | null, ip: string, extra: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { Upgrade: "websocket", "CF-Connecting-IP": ip, ...extra };
  if (key !== null) headers["Authorization"] = `Bearer ${key}`;
  return SELF.fetch(`https://tracker.test/v1/peers/${peerId}/socket`, { headers });
}

export async function openSocket(peerId: string, key: string, ip: string): Promise<OpenSocket> {
  const response = await upgrade(peerId, key, ip);
  if (response.status !== 101 || response.webSocket === null) throw new Error(`upgrade answered ${response.status}`);
  const ws = response.webSocket;
  ws.accept();
  const queue: unknown[] = [];
  const waiters: ((value: unknown) => void)[] = [];
  ws.addEventListener("message", (event) => {
    const data = typeof event.data === "string" ? event.data : "<binary>";
    let value: unknown = data;
    try {
      value = JSON.parse(data);
    } catch {
      // A text frame that is not JSON: `pong`.
    }
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(value);
    else queue.push(value);
  });
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (event) => resolve(event.code)));
  const next = (ms = 2000): Promise<unknown> => {
    if (queue.length > 0) return Promise.resolve(queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${ms} ms`)), ms);
      waiters.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  };
  return { ws, next, closed };
}

export function post(path: string, body: unknown, ip: string, headers: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch(`https://tracker.test${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "CF-Connecting-IP": ip, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function errorCode(response: Response): Promise<string> {
  const body = await response.json<{ error?: { code?: string } }>();
  return body.error?.code ?? `no error code (status ${response.status})`;
}

export function isOrder(value: unknown): value is RendezvousOrder {
  return typeof value === "object" && value !== null && "type" in value;
}

export const NONCE = "0123456789abcdef0123456789abcdef";
