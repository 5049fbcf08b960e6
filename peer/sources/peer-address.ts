import { normalizeIp } from "../../common/ip.js";
import { Errors } from "../errors.js";

/**
 * Peer addresses from outside: a user's `--peer IP:port` (`[v6]:port`), and the entries of another peer's
 * `/peers` answer. Only IP literals (nothing is looked up) that can be dialled, and ports 1-65535.
 */

export interface PeerEndpoint {
  host: string;
  port: number;
}

/** An address one can connect to: not the unspecified address, not broadcast or multicast. */
export function dialable(ip: string): boolean {
  if (ip === "0.0.0.0" || ip === "::" || ip === "255.255.255.255") return false;
  const first = Number(ip.split(".")[0]);
  if (!ip.includes(":") && first >= 224) return false;
  return !/^ff[0-9a-f]{2}:/i.test(ip);
}

export function validPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** `127.0.0.1:5001` or `[::1]:5001` as a canonical address and port; null for anything else. */
export function parsePeerAddress(raw: string): PeerEndpoint | null {
  const text = raw.trim();
  const match = /^\[([^\]]{1,64})\]:(\d{1,5})$/.exec(text) ?? /^([0-9.]{7,15}):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const host = normalizeIp(match[1] ?? "");
  const port = Number(match[2]);
  if (host === null || !dialable(host) || !validPort(port)) return null;
  return { host, port };
}

/** The most peers one download may be given by hand. */
export const MAX_USER_PEERS = 50;

/** A download request's `peers` (control API): absent, or a list of `IP:port` strings; INVALID_PEER otherwise. */
export function peerListFromJson(raw: unknown): PeerEndpoint[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length > MAX_USER_PEERS) throw Errors.invalidPeer(`peers must be a list of at most ${MAX_USER_PEERS} "IP:port" strings`);
  return raw.map((item: unknown) => {
    const peer = typeof item === "string" ? parsePeerAddress(item) : null;
    if (peer === null) throw Errors.invalidPeer(`${JSON.stringify(item)} is not a peer address`, PEER_HINT);
    return peer;
  });
}

export const PEER_HINT = "a peer is IP:port, e.g. 192.168.1.20:5001, or [IPv6]:port, e.g. [2001:db8::7]:5001 (no host names)";
