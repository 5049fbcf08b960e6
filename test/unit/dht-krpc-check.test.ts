import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decode, encode, isDict, type Encodable } from "../../peer/discovery/dht/bencode.js";
import { checkIncoming, checkOutgoing, keptNodes, reachOf, type PacketRules } from "../../peer/discovery/dht/krpc-check.js";
import { dhtKey } from "../../peer/discovery/dht.js";

const id = Buffer.alloc(20, 7);
const loopback: PacketRules = { reach: new Set(["loopback"]), readOnly: false };
const mainline: PacketRules = { reach: new Set(["public"]), readOnly: false };
const readOnly: PacketRules = { reach: new Set(["loopback"]), readOnly: true };

const query = (q: string, a: Record<string, Encodable>): Buffer => encode({ t: Buffer.from("aa"), y: "q", q, a: { id, ...a } });
const response = (r: Record<string, Encodable>): Buffer => encode({ t: Buffer.from("aa"), y: "r", r: { id, ...r } });
const compactNode = (ip: string, port: number): Buffer => {
  const node = Buffer.alloc(26, 1);
  ip.split(".").forEach((part, i) => (node[20 + i] = Number(part)));
  node.writeUInt16BE(port, 24);
  return node;
};
const passed = (verdict: ReturnType<typeof checkIncoming>): Buffer => {
  if ("drop" in verdict) throw new Error(`dropped: ${verdict.drop}`);
  return verdict.pass;
};

describe("the DHT key", () => {
  it("is SHA-1 of the namespace and the file's SHA-1 in lowercase hex, never the file's SHA-1 itself", () => {
    const sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    // printf 'p2p-share:v1:da39a3ee5e6b4b0d3255bfef95601890afd80709' | sha1sum
    expect(dhtKey(sha1).toString("hex")).toBe("d6a159ffd7484e17f218e0d4e2a26e0edeb7861d");
    expect(dhtKey(sha1.toUpperCase())).toEqual(dhtKey(sha1));
  });
});

describe("which addresses a DHT talks to", () => {
  it("is the kinds of its bootstrap nodes, a host name standing for the internet", () => {
    expect([...reachOf(["127.0.70.1:46881", "127.0.70.2:46881"])]).toEqual(["loopback"]);
    expect([...reachOf(["router.bittorrent.com:6881"])]).toEqual(["public"]);
    expect([...reachOf(["10.0.0.5:6881", "dht.example:1"])].sort()).toEqual(["private", "public"]);
  });

  it("drops packets from out of reach, and never sends there", () => {
    const ping = query("ping", {});
    expect(checkIncoming(ping, "203.0.113.9", loopback)).toEqual({ drop: "from 203.0.113.9, out of reach" });
    expect(checkIncoming(ping, "127.0.0.1", mainline)).toEqual({ drop: "from 127.0.0.1, out of reach" });
    expect(checkIncoming(ping, "192.168.1.4", mainline)).toEqual({ drop: "from 192.168.1.4, out of reach" });
    expect(checkOutgoing(ping, "203.0.113.9", loopback)).toBeNull();
    expect(checkOutgoing(ping, "10.1.1.1", mainline)).toBeNull();
    expect(checkOutgoing(ping, "127.0.70.3", loopback)).toBe(ping);
    expect(checkOutgoing(ping, "::1", loopback)).toBeNull();
  });

  it("cuts contacts out of reach (and broken ones) from an answer's nodes", () => {
    const nodes = Buffer.concat([compactNode("127.0.70.2", 46881), compactNode("203.0.113.7", 6881), compactNode("192.168.1.5", 6881), compactNode("127.0.70.3", 0), compactNode("127.0.70.4", 1).subarray(0, 20)]);
    const answer = passed(checkIncoming(response({ nodes }), "127.0.70.1", loopback));
    const r = (decode(answer) as Map<string, unknown>).get("r") as Map<string, unknown>;
    expect(r.get("nodes")).toEqual(compactNode("127.0.70.2", 46881));
    expect(keptNodes(nodes, mainline)).toEqual(compactNode("203.0.113.7", 6881));
  });
});

describe("the shape of what arrives", () => {
  it("passes well-formed queries and answers unchanged", () => {
    const packets = [
      query("ping", {}),
      query("find_node", { target: id }),
      query("get_peers", { info_hash: id }),
      query("announce_peer", { info_hash: id, token: Buffer.from("tok"), port: 45001, implied_port: 0 }),
      query("announce_peer", { info_hash: id, token: Buffer.from("tok"), implied_port: 1 }),
      query("get", { target: id }),
      query("put", { token: Buffer.from("tok"), v: Buffer.from("hello") }),
      response({}),
      response({ token: Buffer.from("tok"), values: [Buffer.from([127, 0, 70, 10, 0xaf, 0xc9])] }),
      encode({ t: Buffer.from("aa"), y: "e", e: [201, "A Generic Error Ocurred"] }),
    ];
    for (const packet of packets) expect(passed(checkIncoming(packet, "127.0.70.1", loopback))).toBe(packet);
  });

  it("drops what the DHT library would throw on: a number where an id, a target, a hash or a token belongs", () => {
    const packets = [
      query("get_peers", { info_hash: 5 }),
      query("get", { target: 5 }),
      query("find_node", { target: [] }),
      query("announce_peer", { info_hash: id, token: 5, port: 1 }),
      query("announce_peer", { info_hash: id, token: Buffer.from("t"), port: 70_000 }),
      query("put", { token: Buffer.from("t"), v: Buffer.from("x"), k: 5, sig: Buffer.alloc(64) }),
      encode({ t: Buffer.from("aa"), y: "q", q: "ping", a: { id: 5 } }),
      encode({ t: Buffer.from("aa"), y: "q", q: "ping", a: 5 }),
      encode({ t: 5, y: "q", q: "ping", a: { id } }),
      encode({ t: Buffer.from("aa"), y: "r", r: { id, nodes: 5 } }),
      encode({ t: Buffer.from("aa"), y: "r", r: { id, values: 5 } }),
      encode({ t: Buffer.from("aa"), y: "r", r: 5 }),
      encode({ t: Buffer.from("aa"), y: "e", e: 5 }),
      encode({ t: Buffer.from("aa"), y: "z" }),
      encode([1, 2, 3]),
      Buffer.from("not bencode at all"),
      Buffer.alloc(4000, 0x64),
    ];
    for (const packet of packets) expect(checkIncoming(packet, "127.0.70.1", loopback), packet.toString("latin1").slice(0, 60)).toHaveProperty("drop");
  });

  it("never throws, whatever arrives (random bytes, and KRPC-shaped messages with fields of any type)", () => {
    const anything: fc.Arbitrary<Encodable> = fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 30 }).map((x) => Buffer.from(x)), fc.constant(id), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({}));
    const fields = fc.dictionary(fc.constantFrom("id", "target", "info_hash", "token", "port", "implied_port", "v", "k", "sig", "seq", "cas", "salt", "ro", "nodes", "values"), anything, { maxKeys: 6 });
    const shaped = fc
      .record({ t: anything, y: fc.constantFrom<Encodable>("q", "r", "e", 5), q: fc.constantFrom<Encodable>("ping", "find_node", "get_peers", "announce_peer", "get", "put", 1), a: fields, r: fields, e: anything })
      .map((message) => encode(message));
    const packet = fc.oneof(shaped, fc.uint8Array({ maxLength: 300 }).map((x) => Buffer.from(x)));
    fc.assert(
      fc.property(packet, fc.constantFrom(loopback, readOnly), (bytes, rules) => {
        checkIncoming(bytes, "127.0.70.1", rules);
        checkOutgoing(bytes, "127.0.70.1", rules);
      }),
      { numRuns: 10_000 },
    );
  });
});

describe("read-only (BEP 43)", () => {
  it("a node that serves nothing answers no query, marks its own ro, and sends no answer", () => {
    expect(checkIncoming(query("ping", {}), "127.0.70.1", readOnly)).toEqual({ drop: "a query to a read-only node" });
    const sent = checkOutgoing(query("get_peers", { info_hash: id }), "127.0.70.1", readOnly);
    const args = (decode(sent!) as Map<string, unknown>).get("a") as Map<string, unknown>;
    expect(args.get("ro")).toBe(1);
    expect(args.get("info_hash")).toEqual(id);
    expect(checkOutgoing(response({}), "127.0.70.1", readOnly)).toBeNull();
    expect(passed(checkIncoming(response({}), "127.0.70.1", readOnly))).toBeDefined();
  });

  it("a full node answers a read-only node's query without taking its id (so not into the routing table)", () => {
    const passedOn = decode(passed(checkIncoming(query("get_peers", { info_hash: id, ro: 1 }), "127.0.70.20", loopback)));
    expect(isDict(passedOn) && isDict(passedOn.get("a")) && passedOn.get("a")).toEqual(new Map<string, unknown>([["info_hash", id], ["ro", 1]]));
  });
});
