import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLanMessage, encodeAnnounces, encodeQuery, FILES_PER_ANNOUNCE, MAX_DATAGRAM_BYTES } from "../../peer/discovery/lan-message.js";

const ID = "0123456789abcdef";
const sha1 = (n: number): string => n.toString(16).padStart(40, "0");
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe("LAN discovery datagrams", () => {
  it("round-trips an announce and a query", () => {
    const [announce, ...more] = encodeAnnounces(ID, 5001, [sha1(1), sha1(2)]);
    expect(more).toEqual([]);
    expect(decodeLanMessage(announce!)).toEqual({ kind: "announce", id: ID, port: 5001, files: [sha1(1), sha1(2)] });
    expect(decodeLanMessage(encodeQuery(ID, sha1(3)))).toEqual({ kind: "query", id: ID, want: sha1(3) });
  });

  it("splits many files into datagrams that each stay under the size cap", () => {
    const files = Array.from({ length: 1000 }, (_, i) => "f".repeat(30) + sha1(i).slice(30));
    const datagrams = encodeAnnounces("ffffffffffffffff", 65535, files);
    expect(datagrams).toHaveLength(Math.ceil(1000 / FILES_PER_ANNOUNCE));
    for (const datagram of datagrams) expect(datagram.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
    const decoded = datagrams.flatMap((d) => {
      const message = decodeLanMessage(d);
      return message.kind === "announce" ? message.files : [];
    });
    expect(decoded).toEqual(files);
    expect(encodeAnnounces(ID, 5001, [])).toEqual([]);
  });

  it("lowercases SHA-1s, drops repeats and ignores fields it does not know", () => {
    const message = decodeLanMessage(json({ v: 1, id: ID, port: 7, files: ["A".repeat(40), "a".repeat(40)], later: { x: 1 } }));
    expect(message).toEqual({ kind: "announce", id: ID, port: 7, files: ["a".repeat(40)] });
  });

  it.each([
    ["random bytes", Buffer.from([0xff, 0x00, 0x13, 0x37]), "json"],
    ["empty", Buffer.alloc(0), "json"],
    ["bad JSON", Buffer.from('{"v":1,'), "json"],
    ["invalid UTF-8 in JSON", Buffer.concat([Buffer.from('{"v":1,"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), "json"],
    ["too big", Buffer.alloc(MAX_DATAGRAM_BYTES + 1, 0x20), "size"],
    ["a JSON array", json([1, 2]), "shape"],
    ["null", json(null), "shape"],
    ["another version", json({ v: 2, id: ID, want: sha1(1) }), "version"],
    ["a version as text", json({ v: "1", id: ID, want: sha1(1) }), "shape"],
    ["no id", json({ v: 1, want: sha1(1) }), "shape"],
    ["an id of the wrong form", json({ v: 1, id: "ABC", want: sha1(1) }), "shape"],
    ["port 0", json({ v: 1, id: ID, port: 0, files: [sha1(1)] }), "shape"],
    ["port 70000", json({ v: 1, id: ID, port: 70_000, files: [sha1(1)] }), "shape"],
    ["port 5001.5", json({ v: 1, id: ID, port: 5001.5, files: [sha1(1)] }), "shape"],
    ["port as text", json({ v: 1, id: ID, port: "5001", files: [sha1(1)] }), "shape"],
    ["no port", json({ v: 1, id: ID, files: [sha1(1)] }), "shape"],
    ["no files", json({ v: 1, id: ID, port: 5001, files: [] }), "shape"],
    ["files not a list", json({ v: 1, id: ID, port: 5001, files: sha1(1) }), "shape"],
    ["a file that is not a SHA-1", json({ v: 1, id: ID, port: 5001, files: [sha1(1), "xyz"] }), "shape"],
    ["a thousand SHA-1s", json({ v: 1, id: ID, port: 5001, files: Array.from({ length: 1000 }, (_, i) => sha1(i)) }), "size"],
    ["want not a SHA-1", json({ v: 1, id: ID, want: 42 }), "shape"],
    ["both an announce and a query", json({ v: 1, id: ID, port: 5001, files: [sha1(1)], want: sha1(1) }), "shape"],
    ["neither", json({ v: 1, id: ID }), "shape"],
  ])("ignores %s", (_, datagram, why) => {
    expect(decodeLanMessage(datagram)).toEqual({ kind: "ignored", why });
  });

  it("never throws on generated input, and whatever it accepts is well formed", () => {
    const field = fc.oneof(fc.jsonValue(), fc.constant(ID), fc.constant(sha1(9)), fc.integer({ min: -1, max: 70_000 }), fc.array(fc.constant(sha1(5)), { maxLength: 40 }));
    const message = fc.dictionary(fc.constantFrom("v", "id", "port", "files", "want", "x"), fc.oneof(field, fc.constant(1)), { maxKeys: 6 });
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
      fc.jsonValue().map(json),
      message.map(json),
    );
    fc.assert(
      fc.property(datagram, (bytes) => {
        const decoded = decodeLanMessage(bytes);
        if (decoded.kind === "announce") {
          expect(Number.isInteger(decoded.port) && decoded.port >= 1 && decoded.port <= 65535).toBe(true);
          expect(decoded.files.length).toBeGreaterThan(0);
          for (const file of decoded.files) expect(file).toMatch(/^[0-9a-f]{40}$/);
        }
        if (decoded.kind === "query") expect(decoded.want).toMatch(/^[0-9a-f]{40}$/);
      }),
      { numRuns: 5000 },
    );
  });
});
