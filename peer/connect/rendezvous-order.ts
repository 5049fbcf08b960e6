import { normalizeIp } from "../../common/ip.js";
import { RELAY_TOKEN_PATTERN, SECRET_PATTERN, type RendezvousOrder } from "../../common/rendezvous-wire.js";

/**
 * One frame from the tracker's rendezvous socket, checked whole before anything acts on it: a known type, an
 * id, an IP address (never a name: nothing is looked up), a port, a secret of the right form. Anything else
 * is null and ignored. Where the address may point is checked by whoever dials it (peer-reach rules).
 */

const ID = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_ORDER_BYTES = 1024;

export function parseOrder(frame: string): RendezvousOrder | null {
  if (frame.length > MAX_ORDER_BYTES) return null;
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { type, id, ip, port } = value as Record<string, unknown>;
  if (typeof id !== "string" || !ID.test(id) || typeof ip !== "string" || typeof port !== "number") return null;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  const address = normalizeIp(ip);
  if (address === null) return null;
  const record = value as Record<string, unknown>;
  switch (type) {
    case "reverse":
    case "punch": {
      const nonce = record.nonce;
      if (typeof nonce !== "string" || !SECRET_PATTERN.test(nonce)) return null;
      return { type, id, ip: address, port, nonce };
    }
    case "relay": {
      const token = record.token;
      if (typeof token !== "string" || !RELAY_TOKEN_PATTERN.test(token)) return null;
      return { type, id, ip: address, port, token };
    }
    default:
      return null;
  }
}
