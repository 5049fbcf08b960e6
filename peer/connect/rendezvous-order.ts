import { isPort, normalizeIp } from "../../common/ip.js";
import { frameObject, RELAY_TOKEN_PATTERN, SECRET_PATTERN, type RendezvousOrder } from "../../common/rendezvous-wire.js";

/**
 * One frame from the tracker's rendezvous socket, checked whole before anything acts on it: a known type, an
 * id, an IP address (never a name: nothing is looked up), a port, a secret of the right form. Anything else
 * is null and ignored. Where the address may point is checked by whoever dials it (peer-reach rules).
 */

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseOrder(frame: string): RendezvousOrder | null {
  const record = frameObject(frame);
  if (record === null) return null;
  const { type, id, ip, port } = record;
  if (typeof id !== "string" || !ID.test(id) || typeof ip !== "string" || !isPort(port)) return null;
  const address = normalizeIp(ip);
  if (address === null) return null;
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
