import { isIP } from "node:net";
import { addressScope, type AddressScope } from "../../sources/address-scope.js";
import { decode, encode, isDict, type BDict, type BValue } from "./bencode.js";

/**
 * The checks every DHT packet passes, both ways, before the DHT library (bittorrent-dht) or the network sees
 * it. Pure: guarded-socket.ts applies them to the socket.
 *
 * - Shape: a packet is a KRPC message (BEP 5) whose fields have the types the library assumes; anything else
 *   (random bytes, truncated or oversized bencode, a number where an id belongs) is dropped here, because the
 *   library would throw on some of it inside its socket handler, which would end the daemon.
 * - Reach: the DHT only talks to the kinds of address (loopback, private, public: address-scope.ts) its
 *   bootstrap nodes are. A DHT joined through local nodes (tests, a LAN) never sends a packet beyond them,
 *   whatever a node answers; the mainline DHT, joined through public host names, never sends one into this
 *   machine or its local network on a stranger's word. Contacts out of reach are cut from answers.
 * - Read-only (BEP 43): a node nobody can reach (a download without a daemon) marks its queries `ro: 1` and
 *   answers none. A query marked `ro` is answered, but without its sender's id, so that the library does not
 *   put a node that cannot answer into the routing table.
 */

/** Larger than any KRPC message in use (a `put` carries at most 1000 bytes of value). */
export const MAX_PACKET_BYTES = 2048;

const ID_BYTES = 20;
/** A compact node: id, IPv4 address, port (BEP 5). */
const NODE_BYTES = ID_BYTES + 6;
/** A compact peer: IPv4 address, port. */
const PEER_BYTES = 6;

export interface PacketRules {
  /** The kinds of address the DHT may exchange packets with. */
  reach: ReadonlySet<AddressScope>;
  /** Unreachable: ask, never answer (BEP 43). */
  readOnly: boolean;
}

export type Verdict = { pass: Buffer } | { drop: string };

/** The kinds of address a DHT joined through these nodes talks to: a host name stands for the internet. */
export function reachOf(bootstrap: readonly string[]): Set<AddressScope> {
  const reach = new Set<AddressScope>();
  for (const node of bootstrap) {
    const host = node.slice(0, node.lastIndexOf(":")).replace(/^\[|\]$/g, "");
    reach.add(isIP(host) === 0 ? "public" : addressScope(host));
  }
  return reach;
}

export function inReach(rules: PacketRules, ip: string): boolean {
  return isIP(ip) === 4 && rules.reach.has(addressScope(ip));
}

/** A packet from `from`: passed on (perhaps re-encoded with contacts cut), or dropped with why. */
export function checkIncoming(packet: Buffer, from: string, rules: PacketRules): Verdict {
  if (!inReach(rules, from)) return { drop: `from ${from}, out of reach` };
  if (packet.length > MAX_PACKET_BYTES) return { drop: `${packet.length} bytes` };
  const message = decode(packet);
  if (!isDict(message)) return { drop: "not a bencoded dictionary" };
  const t = message.get("t");
  if (!Buffer.isBuffer(t) || t.length < 1 || t.length > 16) return { drop: "no transaction id" };
  const y = bytes(message.get("y"));
  if (y === "q") return checkQuery(packet, message, rules);
  if (y === "r") return checkResponse(packet, message, rules);
  if (y === "e") return Array.isArray(message.get("e")) ? { pass: packet } : { drop: "an error without a list" };
  return { drop: "no message type" };
}

/** A packet for `to`: the bytes to send (marked read-only where asked), or null when it must not go. */
export function checkOutgoing(packet: Buffer, to: string, rules: PacketRules): Buffer | null {
  if (!inReach(rules, to)) return null;
  if (!rules.readOnly) return packet;
  const message = decode(packet);
  if (!isDict(message)) return null;
  if (bytes(message.get("y")) !== "q") return null;
  const args = message.get("a");
  if (!isDict(args)) return null;
  args.set("ro", 1);
  return encode(message);
}

function checkQuery(packet: Buffer, message: BDict, rules: PacketRules): Verdict {
  if (rules.readOnly) return { drop: "a query to a read-only node" };
  const q = bytes(message.get("q"));
  const args = message.get("a");
  if (!isDict(args) || !isId(args.get("id"))) return { drop: "a query without a node id" };
  const wrong = (field: string): Verdict => ({ drop: `${q} with a bad ${field}` });
  switch (q) {
    case "ping":
      break;
    case "find_node":
    case "get":
      if (!isId(args.get("target"))) return wrong("target");
      break;
    case "get_peers":
      if (!isId(args.get("info_hash"))) return wrong("info_hash");
      break;
    case "announce_peer": {
      if (!isId(args.get("info_hash"))) return wrong("info_hash");
      if (!isBytes(args.get("token"), 1, 64)) return wrong("token");
      if (!isOptionalInteger(args.get("implied_port"))) return wrong("implied_port");
      const port = args.get("port");
      if (args.get("implied_port") !== 1 && !(typeof port === "number" && port >= 1 && port <= 65535)) return wrong("port");
      break;
    }
    case "put": {
      const v = args.get("v");
      if (v === undefined || (Buffer.isBuffer(v) && v.length > 1000)) return wrong("value");
      if (!isBytes(args.get("token"), 1, 64)) return wrong("token");
      const k = args.get("k");
      const sig = args.get("sig");
      if ((k !== undefined || sig !== undefined) && !(isBytes(k, 32, 32) && isBytes(sig, 64, 64))) return wrong("key");
      if (!isOptionalBytes(args.get("salt"), 64) || !isOptionalInteger(args.get("seq")) || !isOptionalInteger(args.get("cas"))) return wrong("salt, seq or cas");
      break;
    }
    default:
      return { drop: "an unknown query" };
  }
  if (args.get("ro") === 1 && q !== "put") {
    // BEP 43: answered, but the library must not take the sender into the routing table.
    args.delete("id");
    return { pass: encode(message) };
  }
  return { pass: packet };
}

function checkResponse(packet: Buffer, message: BDict, rules: PacketRules): Verdict {
  const r = message.get("r");
  if (!isDict(r) || !isId(r.get("id"))) return { drop: "a response without a node id" };
  if (!isOptionalBytes(r.get("token"), 64)) return { drop: "a response with a bad token" };
  const k = r.get("k");
  const sig = r.get("sig");
  if ((k !== undefined || sig !== undefined) && !(isBytes(k, 32, 32) && isBytes(sig, 64, 64))) return { drop: "a response with a bad key" };
  if (!isOptionalInteger(r.get("seq"))) return { drop: "a response with a bad seq" };
  let changed = false;
  const values = r.get("values");
  if (values !== undefined) {
    if (!Array.isArray(values)) return { drop: "a response with bad values" };
    const peers = values.filter((value) => Buffer.isBuffer(value) && value.length === PEER_BYTES);
    if (peers.length !== values.length) {
      r.set("values", peers);
      changed = true;
    }
  }
  const nodes = r.get("nodes");
  if (nodes !== undefined) {
    if (!Buffer.isBuffer(nodes)) return { drop: "a response with bad nodes" };
    const kept = keptNodes(nodes, rules);
    if (kept.length !== nodes.length) {
      r.set("nodes", kept);
      changed = true;
    }
  }
  return { pass: changed ? encode(message) : packet };
}

/** The compact nodes that are whole, in reach, and have a port; the rest cut. */
export function keptNodes(nodes: Buffer, rules: PacketRules): Buffer {
  const kept: Buffer[] = [];
  for (let at = 0; at + NODE_BYTES <= nodes.length; at += NODE_BYTES) {
    const ip = `${nodes[at + 20]!}.${nodes[at + 21]!}.${nodes[at + 22]!}.${nodes[at + 23]!}`;
    if (nodes.readUInt16BE(at + 24) === 0 || !inReach(rules, ip)) continue;
    kept.push(nodes.subarray(at, at + NODE_BYTES));
  }
  return kept.length === 0 ? Buffer.alloc(0) : Buffer.concat(kept);
}

function bytes(value: BValue | undefined): string | null {
  return Buffer.isBuffer(value) && value.length <= 16 ? value.toString("latin1") : null;
}

function isBytes(value: BValue | undefined, min: number, max: number): boolean {
  return Buffer.isBuffer(value) && value.length >= min && value.length <= max;
}

function isOptionalBytes(value: BValue | undefined, max: number): boolean {
  return value === undefined || isBytes(value, 0, max);
}

function isOptionalInteger(value: BValue | undefined): boolean {
  return value === undefined || typeof value === "number";
}

function isId(value: BValue | undefined): boolean {
  return isBytes(value, ID_BYTES, ID_BYTES);
}
