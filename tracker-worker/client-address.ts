import { normalizeIp } from "../common/ip.js";
import { badRequest, errors } from "./errors.js";

/**
 * Which address the tracker records for a peer. Cloudflare's edge (and wrangler dev) put the connection's
 * address in CF-Connecting-IP; a client cannot forge that header through the edge. A body field claiming
 * another address is honoured only when the deployment says it trusts its clients (TRUST_CLIENT_IP).
 */
export function connectionAddress(headers: Headers): string | null {
  const raw = headers.get("CF-Connecting-IP");
  return raw === null ? null : normalizeIp(raw);
}

export function peerAddress(headers: Headers, claimed: string | undefined, trustClaimed: boolean): string {
  if (trustClaimed && claimed !== undefined) {
    const ip = normalizeIp(claimed);
    if (ip === null) throw badRequest("invalid_ip", "ip is not an IPv4 or IPv6 address");
    return ip;
  }
  const ip = connectionAddress(headers);
  if (ip === null) throw errors.noClientAddress();
  return ip;
}
